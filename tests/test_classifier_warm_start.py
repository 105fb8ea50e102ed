"""Warm starts and partial_fit of WideTwoLayerNetClassifier."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from _reference import (
    _from_scratch_loss,
)

from sklearn_pertlearn import WideTwoLayerNetClassifier


def test_partial_fit_epochs_equal_one_fit(binary_data):
    # The scheduler outlives each call, so n one-epoch calls cut the learning
    # rate exactly when one n-epoch fit does (skorch's LRScheduler would start
    # afresh every call and never cut it). A pickle round trip midway keeps it.
    X, y = binary_data
    params = dict(hidden_dim=8, lr=1e-6, random_state=0)
    fitted = WideTwoLayerNetClassifier(max_epochs=30, **params).fit(X, y)
    stepped = WideTwoLayerNetClassifier(**params)
    for epoch in range(30):
        stepped.partial_fit(X, y, classes=[0, 1])
        if epoch == 15:
            stepped = pickle.loads(pickle.dumps(stepped))
    assert fitted.net_.history[:, "lr"] == stepped.net_.history[:, "lr"]
    assert stepped.net_.optimizer_.param_groups[0]["lr"] < 1e-7
    assert torch.equal(fitted.module_.weight, stepped.module_.weight)


def test_partial_fit_steps_one_epoch_at_a_time(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=8, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        WideTwoLayerNetClassifier(**params).partial_fit(X, y)
    stepped = WideTwoLayerNetClassifier(**params)
    stepped.partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    fitted = WideTwoLayerNetClassifier(max_epochs=2, **params).fit(X, y)
    assert len(stepped.net_.history) == 2
    assert torch.allclose(stepped.module_.weight, fitted.module_.weight)
    with pytest.raises(ValueError, match="not in classes_"):
        stepped.partial_fit(X, y + 5)


def test_warm_start_continues_training(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=8, lr_scheduler=None, random_state=0)
    warm = WideTwoLayerNetClassifier(max_epochs=5, warm_start=True, **params)
    warm.fit(X, y).fit(X, y)
    cold = WideTwoLayerNetClassifier(max_epochs=10, **params).fit(X, y)
    assert len(warm.net_.history) == 10
    assert torch.allclose(warm.module_.weight, cold.module_.weight)
    with pytest.raises(ValueError, match="classes of the previous fit"):
        warm.fit(X, y + 1)


def test_partial_fit_sample_weights_equal_repeated_rows(binary_data):
    X, y = binary_data
    weights = np.random.RandomState(1).randint(0, 3, size=len(y))
    params = dict(hidden_dim=16, dtype="float64", random_state=0)
    weighted = WideTwoLayerNetClassifier(**params)
    repeated = WideTwoLayerNetClassifier(**params)
    for _ in range(3):
        weighted.partial_fit(X, y, classes=[0, 1], sample_weight=weights)
        repeated.partial_fit(np.repeat(X, weights, 0), np.repeat(y, weights), classes=[0, 1])
    np.testing.assert_allclose(
        weighted.decision_function(X), repeated.decision_function(X), rtol=1e-9, atol=1e-12
    )


def test_warm_fit_applies_changed_training_settings(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(
        8, solver="sgd", max_epochs=3, warm_start=True, random_state=0
    )
    clf.fit(X, y)
    clf.set_params(lr=5.0, loss="identity", batch_size=10, momentum=0.0, lr_scheduler=None)
    clf.fit(X, y)
    net = clf.net_
    assert net.optimizer_.param_groups[0]["lr"] == 5.0
    assert net.optimizer_.param_groups[0]["momentum"] == 0.0
    assert net.criterion_.loss == "identity"
    assert [epoch["train_batch_count"] for epoch in net.history] == [1, 1, 1, 8, 8, 8]
    assert "lr_scheduler" not in dict(net.callbacks_)
    assert clf.n_iter_ == 6


def test_warm_fit_applies_a_changed_solver(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=2, warm_start=True, random_state=0)
    weight = clf.fit(X, y).module_.weight.clone()
    clf.set_params(solver="sgd").fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.SGD)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.1
    assert clf.n_iter_ == 4 and not torch.equal(clf.module_.weight, weight)


def test_warm_fit_with_new_settings_continues_from_the_weights(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=8, max_epochs=3, random_state=0)
    warm = WideTwoLayerNetClassifier(warm_start=True, **params).fit(X, y)
    reference = WideTwoLayerNetClassifier(loss="identity", lr=0.01, momentum=0.5, **params)
    reference.set_params(max_epochs=0).fit(X, y)
    reference.module_.load_state_dict(warm.module_.state_dict())
    reference.set_params(max_epochs=3, warm_start=True).fit(X, y)
    warm.set_params(loss="identity", lr=0.01, momentum=0.5).fit(X, y)
    assert torch.equal(warm.module_.weight, reference.module_.weight)


def test_unchanged_settings_keep_the_optimizer_state(binary_data):
    # Momentum and the plateau scheduler carry over: 5 + 5 epochs are 10.
    X, y = binary_data
    params = dict(hidden_dim=8, lr=1e-7, random_state=0)
    warm = WideTwoLayerNetClassifier(max_epochs=40, warm_start=True, **params)
    warm.fit(X, y).fit(X, y)
    cold = WideTwoLayerNetClassifier(max_epochs=80, **params).fit(X, y)
    assert warm.net_.history[:, "lr"] == cold.net_.history[:, "lr"]
    assert torch.equal(warm.module_.weight, cold.module_.weight)


@pytest.mark.parametrize("change", [{"hidden_dim": 64}, {"slope": 0.5}, {"dtype": "float64"}])
def test_changed_architecture_raises_on_warm_start(binary_data, change):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=2, warm_start=True, random_state=0)
    clf.fit(X, y).set_params(**change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"changed {name} from .*warm_start=False"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=f"partial_fit continues .*changed {name}"):
        clf.partial_fit(X, y)
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.module_.hidden_dim == clf.hidden_dim


def test_partial_fit_applies_changed_settings(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, random_state=0).partial_fit(X, y, classes=[0, 1])
    before = copy.deepcopy(clf.module_)
    clf.set_params(lr=0.5, class_weight={0: 2.0}).partial_fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.5
    assert len(clf.net_.history) == 2
    # The second epoch's loss (one full batch of 80 rows) weighs class 0 twice.
    expected = _from_scratch_loss(
        before(torch.as_tensor(X, dtype=torch.float32)).detach(), torch.as_tensor(y),
        "logistic", torch.tensor([2.0, 1.0]),
    )
    assert clf.loss_curve_[-1] == pytest.approx(float(expected), rel=1e-6)


def test_partial_fit_refuses_balanced_class_weight(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        WideTwoLayerNetClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])



def test_a_changed_device_carries_the_weights_over(binary_data):
    # The device is a training setting: the weights move, the optimizer's
    # state starts afresh (here from "cpu" to "cpu:0", the only other device
    # a CPU machine has).
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=2, warm_start=True, random_state=0).fit(X, y)
    weight = clf.module_.weight.detach().clone()
    clf.set_params(device="cpu:0", max_epochs=0).fit(X, y)
    assert torch.equal(clf.module_.weight, weight)
    assert clf.net_.device == "cpu:0"
    clf.set_params(max_epochs=1).partial_fit(X, y)
    assert clf.n_iter_ == 3


def _as_if_fitted_on(clf, device, precision=None):
    """``clf`` pickled as a GPU machine would have: its settings name ``device``."""
    clf.set_params(device=device, **({"precision": precision} if precision else {}))
    clf._optimization_ = {**clf._optimization_, "device": device}
    clf._optimization_["precision"] = clf.precision
    clf.net_.set_params(device=device)
    return pickle.dumps(clf)


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_a_model_loaded_where_it_was_fitted_keeps_its_device(binary_data, device):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=1, device=device, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.device == device


def test_a_gpu_model_loads_and_trains_on_a_machine_without_one(binary_data):
    # skorch maps the weights of a CUDA model to the CPU where CUDA is absent;
    # the estimator's device follows them, with a warning, so that predict,
    # a warm fit with new settings and partial_fit work on.
    if torch.cuda.is_available():
        pytest.skip("simulates a machine without CUDA")
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=3, random_state=0).fit(X, y)
    expected = clf.predict(X)
    with pytest.warns(UserWarning, match="fitted on device='cuda:1'.*device is now 'cpu'"):
        loaded = pickle.loads(_as_if_fitted_on(clf, "cuda:1"))
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), expected)
    loaded.set_params(lr=0.001).partial_fit(X, y)
    loaded.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert loaded.n_iter_ == 6


def test_a_16_bit_gpu_model_is_refused_further_training_on_a_cpu(binary_data):
    # As a fresh fit with precision="16-mixed" is refused on a CPU.
    if torch.cuda.is_available():
        pytest.skip("simulates a machine without CUDA")
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=1, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="device is now 'cpu'"):
        loaded = pickle.loads(_as_if_fitted_on(clf, "cuda", precision="16-mixed"))
    loaded.predict(X)
    with pytest.raises(ValueError, match="16-mixed.*needs a CUDA device"):
        loaded.partial_fit(X, y)
