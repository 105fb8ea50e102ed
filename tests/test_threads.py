"""The thread policy: threads chosen by the size of the work, scoped to the call."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import sklearn_pertlearn
from sklearn_pertlearn import WideTwoLayerNetClassifier, _skorch, config_context
from sklearn_pertlearn._threads import (
    PARALLEL_WORK,
    thread_limit,
)
from sklearn_pertlearn.perturbation import targeted_perturbation
from sklearn_pertlearn.theory import LazyRegimeClassifier, phi_kernel


@pytest.fixture
def auto_threads(monkeypatch):
    """torch at 3 threads and no thread variable set, as in a user's fresh shell.

    conftest.py sets OMP_NUM_THREADS=1 for the suite, under which the policy
    leaves torch alone; these tests remove it and restore it afterwards.
    """
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    calls = []
    set_num_threads = torch.set_num_threads

    def record(n):
        calls.append(n)
        set_num_threads(n)

    monkeypatch.setattr(torch, "set_num_threads", record)
    yield calls
    set_num_threads(before)


def _data(n_samples=20, n_features=3):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def test_small_work_runs_on_one_thread_and_restores(auto_threads):
    with thread_limit(PARALLEL_WORK - 1) as n_threads:
        assert n_threads == torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


def test_large_work_runs_on_all_threads(auto_threads):
    with thread_limit(PARALLEL_WORK) as n_threads:
        assert n_threads == 3
    assert auto_threads == []


def test_nested_scopes_restore_the_outer_count(auto_threads):
    with thread_limit(PARALLEL_WORK):
        with thread_limit(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
        # The ceiling is the count outside every scope, not the inner one.
        with thread_limit(1), thread_limit(PARALLEL_WORK):
            assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 3


def test_the_count_comes_back_after_an_exception(auto_threads):
    with pytest.raises(RuntimeError, match="boom"), thread_limit(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("variable", ["OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_an_explicit_environment_variable_wins(auto_threads, monkeypatch, variable):
    monkeypatch.setenv(variable, "2")
    with thread_limit(1) as n_threads:
        assert n_threads == 3
    assert auto_threads == []


def test_config_context_forces_the_count_over_the_environment(auto_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with config_context(n_threads=2):
        assert sklearn_pertlearn.get_config() == {"n_threads": 2}
        with thread_limit(PARALLEL_WORK) as n_threads:
            assert n_threads == 2
    assert sklearn_pertlearn.get_config() == {"n_threads": "auto"}
    assert torch.get_num_threads() == 3


def test_set_config_changes_the_setting_until_reset(auto_threads):
    sklearn_pertlearn.set_config(n_threads=2)
    try:
        with thread_limit(1) as n_threads:
            assert n_threads == 2
        sklearn_pertlearn.set_config()  # None leaves it unchanged
        assert sklearn_pertlearn.get_config()["n_threads"] == 2
    finally:
        sklearn_pertlearn.set_config(n_threads="auto")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "all", True])
def test_invalid_n_threads_is_named(bad):
    with pytest.raises(ValueError, match=r"config_context: n_threads must be 'auto' or an int"):
        with config_context(n_threads=bad):
            pass
    with pytest.raises(ValueError, match=r"set_config: n_threads must be .* got"):
        sklearn_pertlearn.set_config(n_threads=bad)
    assert sklearn_pertlearn.get_config()["n_threads"] == "auto"


def test_entry_points_run_small_work_on_one_thread(auto_threads):
    X, y = _data()
    clf = WideTwoLayerNetClassifier(hidden_dim=4, max_epochs=2, random_state=0).fit(X, y)
    clf.predict(X)
    clf.partial_fit(X, y)
    targeted_perturbation(clf.module_, X, y, epsilon=0.1)
    phi_kernel(X)
    LazyRegimeClassifier().fit(X, y).predict(X)
    # Every call set one thread and gave the three back.
    assert auto_threads and set(auto_threads) == {1, 3}
    assert auto_threads[::2] == [1] * (len(auto_threads) // 2)
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize(
    "params, step_rows",
    [
        ({"batch_size": None}, 1000),
        ({"batch_size": 10}, 10),
        ({}, 200),  # batch_size="auto": Adam's mini-batches of 200
        ({"solver": "sgd"}, 1000),  # ... and SGD's full batch
    ],
)
def test_the_work_of_a_training_step_is_its_batch(monkeypatch, params, step_rows):
    # The epoch loop sizes its threads by one step's product, the prediction
    # by its chunk's (all 1000 rows under the default working memory).
    works = []
    real = _skorch.thread_limit
    monkeypatch.setattr(_skorch, "thread_limit", lambda work: works.append(work) or real(work))
    X = np.random.RandomState(0).normal(size=(1000, 20))
    y = (X[:, 0] > 0).astype(int)
    WideTwoLayerNetClassifier(hidden_dim=100, max_epochs=1, **params).fit(X, y)
    assert works == [step_rows * 20 * 100, 1000 * 20 * 100]


def test_invalid_input_still_gets_the_entry_points_own_error(auto_threads):
    with pytest.raises(ValueError, match="hidden_dim"):
        WideTwoLayerNetClassifier(hidden_dim="wide").fit(*_data())
    with pytest.raises(TypeError, match="module"):
        targeted_perturbation("not a module", [[0.0]], [0], epsilon=0.1)
    assert torch.get_num_threads() == 3


def test_a_fit_does_not_import_torch_dynamo():
    """torch.optim's constructor would import the compiler stack (about 1 s)."""
    code = (
        "import sys\n"
        "from sklearn.datasets import make_classification\n"
        "from sklearn_pertlearn import WideTwoLayerNetClassifier\n"
        "X, y = make_classification(n_samples=20, random_state=0)\n"
        "WideTwoLayerNetClassifier(max_epochs=2, momentum=0.9).fit(X, y).predict(X)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
