"""How the theory computes: in blocks within the working memory, in its own dtype.

Issue 17 (memory bounded at any number of points) and issue 22 (the caller's
autocast ignored), and the parameter errors of every public theory function.
"""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pertlearn import _kernel
from sklearn_pertlearn.theory import (
    LazyRegimeClassifier,
    decision_map,
    direction_cosine_similarity,
    hat_f,
    hat_g,
    perturbation_direction,
    phi_kernel,
)

# A working memory (MiB) smaller than any query point needs: scikit-learn
# then warns and the theory takes one point per block.
TINY = 1e-9
ONE_POINT_A_BLOCK = "ignore:Could not adhere to working_memory"


def _data(dtype):
    rng = np.random.default_rng(0)
    y = np.where(np.arange(40) % 2 == 0, 1, -1)
    X = (rng.standard_normal((40, 6)) + 0.3 * y[:, None]).astype(dtype)
    # Query points nearly parallel to training points, where arcsin is steep
    # and a rounding shows most.
    Z = np.vstack([X[:10] * (1 + 1e-3), rng.standard_normal((15, 6))]).astype(dtype)
    X_adv = (0.1 * rng.standard_normal(X.shape)).astype(dtype)
    return X, y, Z, X_adv


def _results(X, y, Z, X_adv):
    """Every public computation of the theory on the same data."""
    labels = np.arange(len(X)) % 3
    clf = LazyRegimeClassifier().fit(X, y)
    three = LazyRegimeClassifier(slope=0.5).fit(X, labels)
    result = decision_map(
        X, y, clf, lambda G: -G.sum(axis=1), X_adv=X_adv, limits=(-2, 2), resolution=6
    )
    return {
        "phi_kernel(X, Z)": phi_kernel(X, Z, slope=0.25),
        "phi_kernel(X)": phi_kernel(X),
        "monte_carlo(X, Z)": phi_kernel(X, Z, method="monte_carlo", random_state=0),
        "monte_carlo(X)": phi_kernel(X, method="monte_carlo", random_state=0),
        "perturbation_direction": perturbation_direction(X, y),
        "direction_cosine_similarity": direction_cosine_similarity(X, y, X_adv),
        "hat_f": hat_f(X, y, Z),
        "hat_g": hat_g(X, y, Z, X_adv, slope=0.5),
        "decision_function": clf.decision_function(Z),
        "decision_function, 3 classes": three.decision_function(Z),
        "predict, 3 classes": three.predict(Z),
        "decision_map.hat_f": result.hat_f,
        "decision_map.hat_g": result.hat_g,
        "decision_map.f": result.f,
    }


@pytest.mark.filterwarnings(ONE_POINT_A_BLOCK)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocks_of_one_point_give_the_results_of_one_block(dtype):
    data = _data(dtype)
    whole = _results(*data)
    with sklearn.config_context(working_memory=TINY):
        blocked = _results(*data)
    # Only the rounding of the matrix products differs: BLAS picks its
    # kernels by shape. arcsin, steep next to rho = 1, turns that into up to
    # 3e-5 of Phi in float32 at the nearly parallel points (the accuracy
    # phi_kernel states there is 1e-4) and 4e-10 in float64.
    atol = 1e-4 if dtype == np.float32 else 1e-8
    for name, expected in whole.items():
        np.testing.assert_allclose(blocked[name], expected, rtol=0, atol=atol, err_msg=name)


def test_the_working_memory_sets_the_blocks(monkeypatch):
    blocks = []

    def recorded(n_queries, row_bytes, device_type="cpu"):
        batches = list(query_batches(n_queries, row_bytes, device_type))
        blocks.append(len(batches))
        return batches

    query_batches = _kernel.query_batches
    monkeypatch.setattr(_kernel, "query_batches", recorded)
    X, y, Z, _ = _data(np.float64)
    # A query point of hat_f costs 2 * 40 float64s, 640 bytes: 3 per block.
    with sklearn.config_context(working_memory=3 * 640 / 2**20):
        hat_f(X, y, Z)
    assert blocks == [-(-len(Z) // 3)]
    with sklearn.config_context(working_memory=1):
        sizes = [s.stop - s.start for s in query_batches(7, 2**19)]
        assert sizes == [2, 2, 2, 1]
        with pytest.warns(UserWarning, match="Could not adhere to working_memory"):
            assert len(list(query_batches(3, 2**21))) == 3


def test_autocast_of_the_caller_is_ignored():
    data = _data(np.float32)
    outside = _results(*data)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # The context is active: a product of float32 tensors is bfloat16.
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
        inside = _results(*data)
        assert torch.is_autocast_enabled("cpu")
    for name, expected in outside.items():
        np.testing.assert_array_equal(inside[name], expected, err_msg=name)
        assert np.asarray(inside[name]).dtype == np.asarray(expected).dtype


_X = np.ones((4, 2))
_Y = [1, -1, 1, -1]


@pytest.mark.parametrize(
    "function, args, kwargs, parameter",
    [
        (phi_kernel, (_X,), {"slope": 1.0}, "slope"),
        (phi_kernel, (_X,), {"method": "mc"}, "method"),
        (phi_kernel, (_X,), {"n_draws": 0}, "n_draws"),
        (phi_kernel, ("X",), {}, "X"),
        (phi_kernel, (_X,), {"device": 0}, "device"),
        (perturbation_direction, (_X, _Y), {"slope": -0.5}, "slope"),
        (perturbation_direction, (_X, 1), {}, "y"),
        (direction_cosine_similarity, (_X, _Y, None), {}, "perturbations"),
        (direction_cosine_similarity, (_X, _Y, _X), {"slope": 2}, "slope"),
        (hat_f, (_X, _Y, "Z"), {}, "Z"),
        (hat_f, (_X, _Y, _X), {"device": None}, "device"),
        (hat_g, (_X, _Y, _X, 3.0), {}, "X_adv"),
        (hat_g, (_X, _Y, _X, _X), {"slope": "0"}, "slope"),
        (decision_map, (_X, _Y, print, "g"), {}, "g"),
        (decision_map, (_X, _Y, print, print), {"resolution": 1}, "resolution"),
        (decision_map, (_X, _Y, print, print), {"limits": 7}, "limits"),
    ],
)
def test_parameter_errors_name_the_parameter(function, args, kwargs, parameter):
    name = function.__name__
    with pytest.raises(
        InvalidParameterError, match=f"The '{parameter}' parameter of {name} must be"
    ):
        function(*args, **kwargs)


def test_classifier_keeps_its_training_tensors_out_of_pickles():
    X, y, Z, _ = _data(np.float32)
    clf = LazyRegimeClassifier().fit(X, y)
    expected = clf.decision_function(Z)
    tensors = clf._training_tensors(torch.float32, torch.device("cpu"))
    clf.decision_function(Z)
    assert clf._training_tensors(torch.float32, torch.device("cpu")) is tensors
    # A float64 query needs them in float64; only the latest pair is kept.
    clf.decision_function(Z.astype(np.float64))
    assert list(clf._tensors) == [(torch.float64, torch.device("cpu"))]
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded._tensors == {} and len(clf._tensors) == 1
    np.testing.assert_array_equal(loaded.decision_function(Z), expected)
    # Fitting again forgets the tensors of the previous data.
    clf.fit(X[::-1], y[::-1])
    assert clf._tensors == {}
