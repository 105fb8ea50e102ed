"""Tests of mixed precision training (``precision``) against float32.

The tolerances are about three times the largest error measured over seeds
0-4 on these data (noted at each), so that they pass with a margin and
still fail if a product ran unscaled, in the wrong type, or not at all.
"""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pertlearn import (
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
)
from sklearn_pertlearn import _precision, classifier
from sklearn_pertlearn._network import MarginLoss, TwoLayerNetwork
from sklearn_pertlearn.datasets import make_shifted_gaussian

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
# On CPUs without bfloat16 instructions bf16-mixed warns that it is emulated;
# the numerics under test are the same.
pytestmark = pytest.mark.filterwarnings("ignore:.*no bfloat16 instructions:UserWarning")
DTYPES_16 = [torch.bfloat16, torch.float16]


@pytest.fixture(scope="module")
def data():
    return make_shifted_gaussian(300, 20, random_state=0)


def _relative_error(approx, exact):
    approx, exact = approx.detach().double(), exact.detach().double()
    return float((approx - exact).norm() / exact.norm())


def _network_and_tensors(seed=0):
    X, y = make_shifted_gaussian(200, 20, random_state=seed)
    target = torch.from_numpy((y > 0).astype(np.int64))
    return TwoLayerNetwork(20, 50, seed=seed), torch.from_numpy(X), target


@pytest.mark.parametrize("dtype", DTYPES_16)
def test_preactivation_in_16_bits_is_close(dtype):
    network, X, _ = _network_and_tensors()
    exact = network.preactivation(X)
    approx = network.preactivation(X.to(dtype))
    assert approx.dtype == dtype
    # Measured at most 0.0028 (bfloat16) and 0.00035 (float16).
    assert _relative_error(approx, exact) < (0.008 if dtype == torch.bfloat16 else 0.001)


@pytest.mark.parametrize("dtype", DTYPES_16)
@pytest.mark.parametrize("loss", ["identity", "logistic"])
def test_epoch_gradients_in_16_bits_are_close(dtype, loss):
    network, X, target = _network_and_tensors()
    criterion = MarginLoss(loss)
    gradients = []
    for inputs in (X, X.to(dtype)):
        preactivation = network.preactivation(inputs)
        _, grad_output = criterion.loss_and_grad(network.output(preactivation), target)
        gradients.append(network.parameter_gradients(inputs, preactivation, grad_output))
    (weight, bias), (weight16, bias16) = gradients
    assert weight16.dtype == bias16.dtype == torch.float32
    # Measured at most 0.015 (weight) and 0.022 (bias) in bfloat16, 0.0075 and
    # 0.010 in float16: sign flips of pre-activations near 0 dominate.
    assert _relative_error(weight16, weight) < 0.05
    assert _relative_error(bias16, bias) < 0.06


@pytest.mark.parametrize("dtype", DTYPES_16)
def test_tiny_gradients_do_not_underflow(dtype):
    # Per-sample gradients of 1e-7 times readout entries of about 0.1 are
    # below float16's smallest subnormal number (6e-8): unscaled, the float16
    # product would be all zeros.
    network, X, target = _network_and_tensors()
    grad_output = (2 * target - 1).float() * 1e-7
    exact = network.parameter_gradients(X, network.preactivation(X), grad_output)
    X16 = X.to(dtype)
    approx = network.parameter_gradients(X16, network.preactivation(X16), grad_output)
    for value, reference in zip(approx, exact):
        # Measured at most 0.022 (bfloat16) and 0.010 (float16).
        assert _relative_error(value, reference) < 0.06


def test_float16_product_beyond_its_range_is_recomputed():
    # Inputs scaled by 2000: over 200 samples the weight gradient's sums go
    # beyond float16's 65504 (without the recomputation the result is inf).
    network, X, target = _network_and_tensors()
    X = X * 2000
    grad_output = (2 * target - 1).float()
    exact, _ = network.parameter_gradients(X, network.preactivation(X), grad_output)
    X16 = X.to(torch.float16)
    approx, _ = network.parameter_gradients(X16, network.preactivation(X16), grad_output)
    # Measured at most 0.0031.
    assert _relative_error(approx, exact) < 0.01


@pytest.fixture
def float16_on_this_cpu(monkeypatch):
    """Let ``"16-mixed"`` train on a CPU, where it is refused as too slow.

    The products are then float16 emulated by torch: slow, but the same
    training loop as on CUDA (gradient scaling, recomputation past float16's
    range), so that it runs end to end without a GPU.
    """
    product_dtype = classifier.product_dtype

    def allow_float16(precision, device, owner):
        if precision == "16-mixed":
            return torch.float16
        return product_dtype(precision, device, owner)

    monkeypatch.setattr(classifier, "product_dtype", allow_float16)


# Measured over seeds 0-4: the weights differ from float32's by at most this
# fraction of the distance they moved. Under Adam the step divides by the
# gradients' root mean square, so small gradients' rounding counts more.
MEASURED_WEIGHT_ERROR = {
    ("bf16-mixed", "sgd"): 0.005,
    ("bf16-mixed", "adam"): 0.036,
    ("16-mixed", "sgd"): 0.0014,
    ("16-mixed", "adam"): 0.015,
}


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("loss", ["identity", "logistic"])
def test_mixed_fit_is_close_to_float32(data, loss, solver, precision, float16_on_this_cpu):
    X, y = data
    X_test, y_test = make_shifted_gaussian(300, 20, random_state=100)
    params = dict(
        hidden_dim=50, loss=loss, solver=solver, max_epochs=30, random_state=0
    )
    exact = WideTwoLayerNetClassifier(**params).fit(X, y)
    mixed = WideTwoLayerNetClassifier(precision=precision, **params).fit(X, y)
    initial = WideTwoLayerNetClassifier(**{**params, "max_epochs": 0}).fit(X, y)
    moved = (exact.module_.weight - initial.module_.weight).detach()
    difference = (mixed.module_.weight - exact.module_.weight).detach()
    # Also measured: the last losses differ by at most 0.005 relative,
    # accuracies by at most 0.005, and test predictions were equal on every
    # seed.
    tolerance = 3 * MEASURED_WEIGHT_ERROR[precision, solver]
    assert float(difference.norm() / moved.norm()) < tolerance
    assert mixed.loss_curve_[-1] == pytest.approx(exact.loss_curve_[-1], rel=0.02)
    assert abs(mixed.score(X, y) - exact.score(X, y)) <= 0.01
    assert np.mean(mixed.predict(X_test) == exact.predict(X_test)) >= 0.98


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_master_weights_momentum_and_predictions_stay_in_dtype(data, dtype):
    X, y = data
    clf = WideTwoLayerNetClassifier(
        50, solver="sgd", max_epochs=5, dtype=dtype, precision="bf16-mixed",
        random_state=0,
    ).fit(X, y)
    expected = getattr(torch, dtype)
    module = clf.module_
    tensors = [*module.parameters(), *module.buffers()]
    tensors += [state["momentum_buffer"] for state in clf.net_.optimizer_.state.values()]
    assert len(tensors) == 5
    assert all(tensor.dtype == expected for tensor in tensors)
    # Predictions are f in the fitted dtype, without any 16-bit rounding.
    decision = clf.decision_function(X)
    assert decision.dtype == np.dtype(dtype)
    with torch.no_grad():
        exact = module(torch.from_numpy(X).to(expected)).numpy()
    np.testing.assert_array_equal(decision, exact)


def test_attack_runs_in_the_fitted_dtype(data):
    X, y = data
    params = dict(hidden_dim=50, max_epochs=5, random_state=0)
    mixed = WideTwoLayerNetClassifier(precision="bf16-mixed", **params).fit(X, y)
    # The same weights in a float32 network attack exactly alike.
    exact = WideTwoLayerNetClassifier(**params).fit(X, y)
    exact.module_.load_state_dict(mixed.module_.state_dict())
    perturbations = [
        AdversarialPerturbationTransformer(clf, epsilon=0.5, prefit=True).fit(X, y).perturb(X, -y)
        for clf in (mixed, exact)
    ]
    assert perturbations[0].dtype == np.float32
    np.testing.assert_array_equal(perturbations[0], perturbations[1])


def test_bf16_fits_repeat_bit_for_bit(data):
    X, y = data
    params = dict(hidden_dim=50, max_epochs=10, precision="bf16-mixed", random_state=3)
    first = WideTwoLayerNetClassifier(**params).fit(X, y)
    second = WideTwoLayerNetClassifier(**params).fit(X, y)
    assert torch.equal(first.module_.weight, second.module_.weight)
    assert first.loss_curve_ == second.loss_curve_


def test_warm_start_changes_precision(data):
    X, y = data
    clf = WideTwoLayerNetClassifier(50, max_epochs=5, warm_start=True, random_state=0)
    clf.fit(X, y).set_params(precision="bf16-mixed").fit(X, y)
    assert clf.n_iter_ == 10


def test_float16_on_a_cpu_is_refused(data):
    with pytest.raises(ValueError, match=r"precision='16-mixed'\) needs a CUDA.*bf16-mixed"):
        WideTwoLayerNetClassifier(precision="16-mixed").fit(*data)


def test_unknown_precision_is_refused(data):
    with pytest.raises(InvalidParameterError, match="precision"):
        WideTwoLayerNetClassifier(precision="16").fit(*data)


def test_bf16_without_cpu_instructions_warns(data, monkeypatch):
    monkeypatch.setattr(_precision, "cpu_bf16_features", lambda: ())
    with pytest.warns(UserWarning, match="no bfloat16 instructions"):
        WideTwoLayerNetClassifier(max_epochs=1, precision="bf16-mixed").fit(*data)


def test_bf16_on_a_cuda_device_before_ampere_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (7, 5))
    monkeypatch.setattr(torch.version, "hip", None)
    with pytest.raises(ValueError, match=r"compute capability 8.0.*has 7.5.*16-mixed"):
        _precision.product_dtype("bf16-mixed", torch.device("cuda"), "Net")


def test_inputs_beyond_float16_are_refused():
    X = torch.tensor([[1.0, 7e4]])
    with pytest.raises(ValueError, match=r"largest absolute value 7e\+04.*65504"):
        _precision.to_product_dtype(X, torch.float16, "Net", "16-mixed")


def test_grid_search_over_the_precision_of_f_and_g(data):
    X, y = data
    grid = GridSearchCV(
        PerturbationLearningClassifier(
            WideTwoLayerNetClassifier(20, max_epochs=20, random_state=0), epsilon=0.5,
            standardize=False, random_state=0,
        ),
        {"estimator__precision": ["32-true", "bf16-mixed"]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2
    best, chosen = grid.best_estimator_, grid.best_params_["estimator__precision"]
    # f and g (a clone of f's estimator) both train in the chosen precision.
    assert best.source_estimator_.precision == best.estimator_.precision == chosen


@requires_cuda
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_cuda_mixed_fit_is_close_to_float32(data, precision):
    if precision == "bf16-mixed" and torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("bfloat16 needs compute capability 8.0")
    X, y = data
    params = dict(hidden_dim=50, lr=0.1, max_epochs=30, device="cuda", random_state=0)
    exact = WideTwoLayerNetClassifier(**params).fit(X, y)
    mixed = WideTwoLayerNetClassifier(precision=precision, **params).fit(X, y)
    assert mixed.module_.weight.dtype == torch.float32
    assert mixed.module_.weight.is_cuda
    difference = (mixed.module_.weight - exact.module_.weight).norm()
    assert float(difference / exact.module_.weight.norm()) < 0.02
    assert np.mean(mixed.predict(X) == exact.predict(X)) >= 0.98
