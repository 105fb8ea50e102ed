"""On a dask cluster, searches and sweeps give the results of sequential runs.

A ``LocalCluster`` of two worker processes on the loopback interface stands
in for a real cluster: the work is pickled, shipped to other processes and
run there, as on remote machines.
"""

import signal
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from joblib import parallel_config
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_pertlearn import PerturbationLearningClassifier, WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.experiments import PRESETS, run_experiments
from sklearn_pertlearn.metrics import agreement_scorer

distributed = pytest.importorskip("distributed")

# Seconds that starting the cluster, or any one test on it, may take before
# it fails instead of hanging (measured: 5 s and 15 s on two busy cores).
START_LIMIT = 90
TEST_LIMIT = 120


@contextmanager
def _deadline(seconds):
    """Raise TimeoutError in the main thread after ``seconds``."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"gave up after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster():
    # dask's nanny starts every worker with OMP_NUM_THREADS=1, so torch runs
    # one thread there; the sequential runs here use one too, so that both
    # sum in the same order and agree bit for bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with _deadline(START_LIMIT):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        yield cluster
    finally:
        with _deadline(START_LIMIT):
            cluster.close(timeout=30)
        torch.set_num_threads(threads)


def test_grid_search_over_width_and_epsilon_matches_sequential(cluster):
    X, y = make_shifted_gaussian(120, 20, random_state=0)
    net = WideTwoLayerNetClassifier(
        10, loss="identity", solver="sgd", lr=1.0, max_epochs=30, random_state=0
    )
    search = GridSearchCV(
        PerturbationLearningClassifier(net, random_state=0),
        {"estimator__hidden_dim": [10, 100], "epsilon": [0.0, 0.05]},
        scoring={"accuracy": "accuracy", "agreement": agreement_scorer},
        refit="accuracy",
        cv=2,
    )
    sequential = clone(search).fit(X, y)
    with _deadline(TEST_LIMIT), distributed.Client(cluster, timeout="30s") as client:
        with distributed.get_task_stream(client) as tasks, parallel_config(backend="dask"):
            on_cluster = clone(search).set_params(n_jobs=-1).fit(X, y)
    assert len(tasks.data) >= 8, "the fits did not run on the cluster"
    for key in ("mean_test_accuracy", "mean_test_agreement", "split0_test_agreement"):
        np.testing.assert_array_equal(on_cluster.cv_results_[key], sequential.cv_results_[key])
    assert on_cluster.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(on_cluster.predict(X), sequential.predict(X))


def test_sweep_on_the_cluster_matches_sequential(cluster, tmp_path):
    preset = PRESETS["sG-a"].quick()
    widths = next(sweep for sweep in preset.sweeps if sweep.param == "hidden_dim")
    configs = preset.runs([widths])
    sequential = run_experiments(configs)
    output = tmp_path / "widths.csv"
    with _deadline(TEST_LIMIT):
        on_cluster = run_experiments(configs, output, scheduler=cluster.scheduler_address)
    assert len(on_cluster) == len(configs) == 12
    for ours, theirs in zip(on_cluster, sequential):
        assert {k: v for k, v in ours.items() if k != "seconds"} == {
            k: v for k, v in theirs.items() if k != "seconds"
        }
    assert output.read_text().count("\n") == 1 + len(configs)
