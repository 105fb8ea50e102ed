"""Training of WideTwoLayerNetClassifier against references written from scratch."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _reference import (
    _assert_trained_as,
    _from_scratch_fit,
    _from_scratch_loss,
    _repeat_vs_weigh,
    _sgd,
)
from sklearn.base import clone
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from sklearn_pertlearn import WideTwoLayerNetClassifier


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("slope", [0.0, 0.5])
@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
def test_fit_equals_training_from_scratch(request, dataset, loss, slope):
    X, y = request.getfixturevalue(dataset)
    params = dict(hidden_dim=20, slope=slope, loss=loss, solver="sgd", lr=0.05, random_state=3)
    initial = WideTwoLayerNetClassifier(max_epochs=0, **params).fit(X, y).module_
    fitted = WideTwoLayerNetClassifier(max_epochs=60, **params).fit(X, y).module_
    y_index = np.unique(y, return_inverse=True)[1]
    expected = _from_scratch_fit(
        initial, X, y_index, loss=loss, slope=slope, epochs=60, optimizer=_sgd(0.05)
    )
    _assert_trained_as(fitted, expected, initial, rtol=1e-4)


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
def test_mini_batch_fit_equals_training_from_scratch(request, dataset, loss):
    # Batches of 16 in the order of one permutation per epoch, drawn from the
    # shuffling seed the fit recorded on its net.
    X, y = request.getfixturevalue(dataset)
    params = dict(
        hidden_dim=12, loss=loss, solver="sgd", lr=0.05, batch_size=16, random_state=1
    )
    initial = WideTwoLayerNetClassifier(max_epochs=0, **params).fit(X, y).module_
    clf = WideTwoLayerNetClassifier(max_epochs=8, **params).fit(X, y)
    expected = _from_scratch_fit(
        initial, X, np.unique(y, return_inverse=True)[1], loss=loss, slope=0.0,
        epochs=8, optimizer=_sgd(0.05), batch_size=16,
        shuffle_seed=clf.net_.shuffle_seed,
    )
    _assert_trained_as(clf.module_, expected, initial, rtol=1e-4)


@pytest.mark.parametrize("loss", ["identity", "logistic"])
def test_momentum_zero_equals_training_from_scratch(binary_data, loss):
    X, y = binary_data
    params = dict(
        hidden_dim=12, loss=loss, solver="sgd", lr=0.05, momentum=0.0, random_state=2
    )
    initial = WideTwoLayerNetClassifier(max_epochs=0, **params).fit(X, y).module_
    fitted = WideTwoLayerNetClassifier(max_epochs=30, **params).fit(X, y).module_
    expected = _from_scratch_fit(
        initial, X, y, loss=loss, slope=0.0, epochs=30, optimizer=_sgd(0.05, momentum=0.0)
    )
    _assert_trained_as(fitted, expected, initial, rtol=1e-4)


@pytest.mark.parametrize("loss", ["identity", "logistic"])
def test_default_adam_fit_equals_training_from_scratch(multiclass_data, loss):
    # The defaults: Adam at lr 0.01 with the plateau scheduler; iris has fewer
    # rows than the mini-batch of 200, so every epoch is one full batch.
    X, y = multiclass_data
    params = dict(hidden_dim=12, loss=loss, random_state=4)
    initial = WideTwoLayerNetClassifier(max_epochs=0, **params).fit(X, y).module_
    fitted = WideTwoLayerNetClassifier(max_epochs=30, **params).fit(X, y).module_
    expected = _from_scratch_fit(
        initial, X, np.unique(y, return_inverse=True)[1], loss=loss, slope=0.0, epochs=30,
        optimizer=lambda params: torch.optim.Adam(params, lr=0.01),
    )
    _assert_trained_as(fitted, expected, initial, rtol=1e-4)


@pytest.mark.parametrize(
    "solver, optimizer, lr, batches",
    [("adam", torch.optim.Adam, 0.01, 3), ("sgd", torch.optim.SGD, 0.1, 1)],
)
def test_solver_sets_the_optimizer_and_what_auto_means(solver, optimizer, lr, batches):
    # 450 rows: Adam's "auto" batches are 200, 200 and 50; SGD's the whole set.
    X, y = make_blobs(n_samples=450, centers=2, n_features=4, random_state=0)
    clf = WideTwoLayerNetClassifier(8, solver=solver, max_epochs=2, random_state=0).fit(X, y)
    assert isinstance(clf.net_.optimizer_, optimizer)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == lr
    assert [epoch["train_batch_count"] for epoch in clf.net_.history] == [batches] * 2
    explicit = dict(lr=0.5, batch_size=100, max_epochs=1)
    clf = WideTwoLayerNetClassifier(8, solver=solver, random_state=0, **explicit).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.5
    assert clf.net_.history[-1, "train_batch_count"] == 5


OPTIMIZERS = {
    "weight_decay": _sgd(0.05, weight_decay=0.5),
    "nesterov": _sgd(0.05, nesterov=True),
    "dampening": _sgd(0.05, dampening=0.5),
    "maximize": _sgd(0.05, maximize=True),
    "foreach": _sgd(0.05, weight_decay=0.5, foreach=True),
    "two_groups": lambda params: torch.optim.SGD(
        [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.05, momentum=0.9
    ),
    "adam": lambda params: torch.optim.Adam(params, lr=0.05),
}


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("setting", OPTIMIZERS)
def test_training_step_honours_the_optimizer(binary_data, setting, loss):
    # The optimizer of a fitted net replaced by one with other settings, as a
    # user would: warm-started epochs must follow it exactly (float64).
    X, y = binary_data
    make_optimizer = OPTIMIZERS[setting]
    clf = WideTwoLayerNetClassifier(
        10, loss=loss, dtype="float64", lr_scheduler=None, max_epochs=0, random_state=0
    ).fit(X, y)
    initial = copy.deepcopy(clf.module_)
    clf.net_.optimizer_ = make_optimizer(list(clf.module_.parameters()))
    clf.set_params(warm_start=True, max_epochs=5).fit(X, y)
    reference = dict(loss=loss, slope=0.0, epochs=5, scheduler=False)
    expected = _from_scratch_fit(initial, X, y, optimizer=make_optimizer, **reference)
    _assert_trained_as(clf.module_, expected, initial, rtol=1e-10)
    plain = _from_scratch_fit(initial, X, y, optimizer=_sgd(0.05), **reference)
    assert not torch.allclose(expected[0], plain[0], rtol=1e-3)


@pytest.mark.parametrize("scope", ["optimizer", "global"])
def test_optimizer_step_hooks_run(binary_data, scope):
    # Plain SGD is stepped without optimizer.step(), which alone runs step
    # hooks: a registered hook must send every step through it.
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(
        10, solver="sgd", lr_scheduler=None, max_epochs=0, random_state=0
    ).fit(X, y)
    calls = {"pre": 0, "post": 0}

    def count(kind):
        def hook(*args):
            calls[kind] += 1

        return hook

    if scope == "optimizer":
        optimizer = clf.net_.optimizer_
        handles = [
            optimizer.register_step_pre_hook(count("pre")),
            optimizer.register_step_post_hook(count("post")),
        ]
    else:
        handles = [
            register_optimizer_step_pre_hook(count("pre")),
            register_optimizer_step_post_hook(count("post")),
        ]
    try:
        clf.set_params(warm_start=True, max_epochs=3).fit(X, y)
    finally:
        for handle in handles:
            handle.remove()
    assert calls == {"pre": 3, "post": 3}


def test_plateau_scheduler_steps_on_every_epochs_training_loss(binary_data):
    # A tiny learning rate stalls the loss, so ReduceLROnPlateau (patience 10)
    # must cut the rate; replaying the recorded losses through torch's own
    # scheduler must give the same rates, epoch by epoch.
    X, y = binary_data
    params = dict(hidden_dim=8, lr=1e-6, max_epochs=30, random_state=0)
    clf = WideTwoLayerNetClassifier(**params).fit(X, y)
    history = clf.net_.history
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-6)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    replayed = []
    for loss in history[:, "train_loss"]:
        replayed.append(optimizer.param_groups[0]["lr"])
        scheduler.step(loss)
    assert history[:, "lr"] == pytest.approx(replayed)
    assert clf.net_.optimizer_.param_groups[0]["lr"] < 1e-7
    constant = WideTwoLayerNetClassifier(lr_scheduler=None, **params).fit(X, y)
    assert constant.net_.optimizer_.param_groups[0]["lr"] == 1e-6


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
def test_class_weight_equals_training_from_scratch(request, dataset, loss):
    X, y = request.getfixturevalue(dataset)
    classes = np.unique(y)
    weights = dict(zip(classes.tolist(), [3.0, 0.5, 1.5][: len(classes)]))
    params = dict(hidden_dim=10, loss=loss, solver="sgd", lr=0.05, random_state=0)
    initial = WideTwoLayerNetClassifier(max_epochs=0, **params).fit(X, y).module_
    fitted = WideTwoLayerNetClassifier(max_epochs=20, class_weight=weights, **params)
    expected = _from_scratch_fit(
        initial, X, np.searchsorted(classes, y), loss=loss, slope=0.0, epochs=20,
        optimizer=_sgd(0.05), class_weight=torch.tensor(list(weights.values())),
    )
    _assert_trained_as(fitted.fit(X, y).module_, expected, initial, rtol=1e-4)


def test_balanced_class_weight_counters_imbalance():
    # 9:1 imbalance: the identity loss lets the bias follow the majority, the
    # balanced weights restore recall on the minority (measured 0.55 -> 1.0).
    X, y = make_blobs(n_samples=[180, 20], centers=[[0, 0], [2, 2]], random_state=0)
    params = dict(hidden_dim=50, loss="identity", lr=0.5, max_epochs=100, random_state=0)
    plain = WideTwoLayerNetClassifier(**params).fit(X, y)
    balanced = WideTwoLayerNetClassifier(class_weight="balanced", **params).fit(X, y)
    minority = y == 1
    assert np.mean(balanced.predict(X[minority]) == 1) > np.mean(
        plain.predict(X[minority]) == 1
    )


def test_initialisation_follows_the_paper():
    X = np.zeros((2, 400))
    y = np.array([0, 1])
    module = WideTwoLayerNetClassifier(2000, max_epochs=0, random_state=0).fit(X, y).module_
    assert module.weight.std().item() == pytest.approx(1 / np.sqrt(400), rel=0.01)
    assert module.bias.std().item() == pytest.approx(1.0, rel=0.05)
    assert module.readout.std().item() == pytest.approx(1 / np.sqrt(2000), rel=0.05)
    assert module.readout.shape == (2000,)
    assert [name for name, _ in module.named_parameters()] == ["weight", "bias"]


def test_zero_epochs_keeps_initial_weights_a_pure_function_of_random_state(binary_data):
    X, y = binary_data
    first = WideTwoLayerNetClassifier(16, max_epochs=0, random_state=7).fit(X, y)
    again = WideTwoLayerNetClassifier(16, max_epochs=0, random_state=7).fit(X[:10], y[:10])
    other = WideTwoLayerNetClassifier(16, max_epochs=0, random_state=8).fit(X, y)
    assert torch.equal(first.module_.weight, again.module_.weight)
    assert torch.equal(first.module_.readout, again.module_.readout)
    assert not torch.equal(first.module_.weight, other.module_.weight)
    assert len(first.net_.history) == 0


def test_fit_is_bit_identical_and_leaves_global_rng_alone(binary_data):
    X, y = binary_data
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    params = dict(hidden_dim=16, max_epochs=30, batch_size=16, random_state=0)
    first = WideTwoLayerNetClassifier(**params).fit(X, y)
    second = WideTwoLayerNetClassifier(**params).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert torch.equal(first.module_.weight, second.module_.weight)
    assert np.array_equal(first.decision_function(X), second.decision_function(X))
    shuffled = WideTwoLayerNetClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert not torch.equal(first.module_.weight, shuffled.module_.weight)


_SUBPROCESS_FIT = """
import numpy as np, sys
from sklearn.datasets import make_blobs
from sklearn_pertlearn import WideTwoLayerNetClassifier
X, y = make_blobs(n_samples=50, n_features=4, random_state=0)
clf = WideTwoLayerNetClassifier(12, max_epochs=20, random_state=0).fit(X, y)
sys.stdout.write(clf.decision_function(X).tobytes().hex())
"""


def test_fit_is_bit_identical_across_processes():
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_FIT], capture_output=True, text=True,
            check=True,
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1


def test_full_batch_equals_one_batch_of_everything(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=8, max_epochs=10, random_state=0)
    full = WideTwoLayerNetClassifier(**params).fit(X, y)
    one_batch = WideTwoLayerNetClassifier(batch_size=len(X), **params).fit(X, y)
    mini = WideTwoLayerNetClassifier(batch_size=16, **params).fit(X, y)
    assert torch.equal(full.module_.weight, one_batch.module_.weight)
    assert not torch.equal(full.module_.weight, mini.module_.weight)
    assert mini.net_.history[-1, "train_batch_count"] == 5


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_integer_sample_weights_equal_repeated_rows(request, dataset, loss, class_weight):
    X, y = request.getfixturevalue(dataset)
    weights = np.random.RandomState(0).randint(0, 4, size=len(y))
    repeated, weighted = _repeat_vs_weigh(X, y, weights, loss=loss, class_weight=class_weight)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-9, atol=1e-12)


def test_sample_weights_change_the_fit_and_scale_free(binary_data):
    X, y = binary_data
    weights = np.random.RandomState(0).uniform(0.1, 2.0, size=len(y))
    params = dict(hidden_dim=16, max_epochs=20, dtype="float64", random_state=0)
    plain = WideTwoLayerNetClassifier(**params).fit(X, y).decision_function(X)
    ones = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    once = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=weights)
    thrice = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=3 * weights)
    np.testing.assert_allclose(ones.decision_function(X), plain, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        thrice.decision_function(X), once.decision_function(X), rtol=1e-9, atol=1e-12
    )
    assert not np.allclose(once.decision_function(X), plain)


def test_mini_batch_loss_curve_weighs_batches_by_their_weight(binary_data):
    X, y = binary_data
    weights = np.random.RandomState(2).uniform(0.0, 3.0, size=len(y))
    clf = WideTwoLayerNetClassifier(8, max_epochs=1, batch_size=16, lr=1e-9, random_state=0)
    clf.fit(X, y, sample_weight=weights)
    # With a negligible rate the epoch's batches all see the initial weights:
    # their weighted mean is the weighted loss of the whole set.
    initial = WideTwoLayerNetClassifier(8, max_epochs=0, random_state=0).fit(X, y)
    f = torch.from_numpy(initial.decision_function(X).astype(np.float64))
    per_sample = F.softplus(-(2 * torch.from_numpy(y) - 1) * f).numpy()
    expected = np.sum(weights * per_sample) / np.sum(weights)
    assert clf.loss_curve_[0] == pytest.approx(expected, rel=1e-5)


def test_n_iter_and_loss_curve_count_every_epoch(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=7, warm_start=True, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ == 7
    assert clf.loss_curve_ == clf.net_.history[:, "train_loss"]
    clf.fit(X, y)
    assert clf.n_iter_ == 14 and len(clf.loss_curve_) == 14
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 7
    stepped = WideTwoLayerNetClassifier(8, random_state=0)
    stepped.partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert stepped.n_iter_ == 2 and stepped.loss_curve_ == clf.loss_curve_[:2]
    assert WideTwoLayerNetClassifier(8, max_epochs=0).fit(X, y).n_iter_ == 0



def test_skorch_callbacks_run_and_see_the_gradients(binary_data):
    class GradientNorms(Callback):
        def initialize(self):
            self.norms_ = []
            return self

        def on_grad_computed(self, net, named_parameters, **kwargs):
            self.norms_.append(
                float(sum(p.grad.square().sum() for _, p in named_parameters)) ** 0.5
            )

    X, y = binary_data
    params = dict(hidden_dim=8, solver="sgd", lr=0.5, lr_scheduler=None, random_state=0)
    # Every step computes the closed-form gradients into param.grad.
    clf = WideTwoLayerNetClassifier(max_epochs=5, callbacks=[GradientNorms()], **params)
    clf.fit(X, y)
    assert len(clf.net_.callbacks_[-1][1].norms_) == 5
    assert all(norm > 0 for norm in clf.net_.callbacks_[-1][1].norms_)
    assert clf.callbacks[0].__dict__.get("norms_") is None  # the estimator's stays unfitted
    # A callback that changes the gradients changes the fit, ...
    plain = WideTwoLayerNetClassifier(max_epochs=5, **params).fit(X, y)
    clipped = WideTwoLayerNetClassifier(
        max_epochs=5, callbacks=[GradientNormClipping(1e-6)], **params
    ).fit(X, y)
    moved = [
        (est.module_.weight - initial.module_.weight).norm()
        for est, initial in [(plain, clone(plain).set_params(max_epochs=0).fit(X, y)),
                             (clipped, clone(clipped).set_params(max_epochs=0).fit(X, y))]
    ]
    assert moved[1] < 1e-4 * moved[0]
    # ... and one that stops training stops it.
    stopped = WideTwoLayerNetClassifier(
        max_epochs=50,
        callbacks=[EarlyStopping(monitor="train_loss", patience=2, threshold=100.0, sink=print)],
        **params,
    ).fit(X, y)
    assert stopped.n_iter_ == 3


def test_alpha_is_mlp_classifiers_l2_penalty(binary_data):
    # alpha / 2 * ||W||^2 / rows joins the loss of every batch, so one
    # full-batch SGD step equals the reference's on that penalised loss.
    X, y = binary_data
    alpha = 3.0
    params = dict(hidden_dim=10, solver="sgd", lr=0.05, lr_scheduler=None, dtype="float64")
    initial = WideTwoLayerNetClassifier(max_epochs=0, random_state=0, **params).fit(X, y).module_
    clf = WideTwoLayerNetClassifier(max_epochs=3, alpha=alpha, random_state=0, **params)
    clf.fit(X, y)
    weight = initial.weight.detach().clone().requires_grad_()
    bias = initial.bias.detach().clone().requires_grad_()
    optimizer = torch.optim.SGD([weight, bias], lr=0.05, momentum=0.9)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(3):
        f = F.leaky_relu(X_t @ weight.T + bias, 0.0) @ initial.readout
        loss = _from_scratch_loss(f, y_t, "logistic", None)
        loss = loss + 0.5 * alpha / len(X) * weight.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.testing.assert_close(clf.module_.weight.detach(), weight.detach())
    torch.testing.assert_close(clf.module_.bias.detach(), bias.detach())
    # The recorded loss of the first epoch is the penalised one, at the start.
    f0 = F.leaky_relu(X_t @ initial.weight.T + initial.bias, 0.0) @ initial.readout
    penalised = _from_scratch_loss(f0, y_t, "logistic", None) + 0.5 * alpha / len(X) * (
        initial.weight.square().sum()
    )
    assert clf.loss_curve_[0] == pytest.approx(float(penalised), rel=1e-10)
