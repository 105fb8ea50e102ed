"""Tests of WideTwoLayerNetClassifier beyond scikit-learn's common checks."""

import copy
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from sklearn_pertlearn import WideTwoLayerNetClassifier
from sklearn_pertlearn.classifier import CollapseWarning

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def binary_data():
    X, y = make_blobs(n_samples=80, centers=2, n_features=6, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def multiclass_data():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _from_scratch_loss(f, y_index, loss, class_weight):
    """The paper's losses, written here from their definitions."""
    rows = torch.arange(len(y_index))
    if f.dim() == 1:
        signed_margin = -(2 * y_index - 1) * f
        per_sample = signed_margin if loss == "identity" else torch.log1p(signed_margin.exp())
    elif loss == "logistic":
        per_sample = torch.logsumexp(f, dim=1) - f[rows, y_index]
    else:
        per_sample = f.mean(dim=1) - f[rows, y_index]
    if class_weight is not None:
        per_sample = per_sample * class_weight[y_index]
    return per_sample.mean()


def _from_scratch_fit(initial, X, y_index, *, loss, slope, epochs, optimizer,
                      class_weight=None, batch_size=None, shuffle_seed=None,
                      scheduler=True):
    """Train the paper's network with autograd, written here from scratch.

    Its own forward pass ``leaky_relu(X W^T + b) @ a`` from the initial weights
    of ``initial``, its own loss, ``optimizer([W, b])`` with autograd, and its
    own loop: full batch, or mini-batches in the order of one
    ``torch.randperm`` per epoch drawn from a generator seeded with
    ``shuffle_seed``. Returns the trained ``(W, b)``.
    """
    weight = initial.weight.detach().clone().requires_grad_()
    bias = initial.bias.detach().clone().requires_grad_()
    readout = initial.readout.detach()
    X = torch.as_tensor(X, dtype=weight.dtype)
    y_index = torch.as_tensor(y_index)
    n_samples = len(X)
    batch_size = batch_size or n_samples
    generator = None if shuffle_seed is None else torch.Generator().manual_seed(shuffle_seed)
    optimizer = optimizer([weight, bias])
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer) if scheduler else None
    for _ in range(epochs):
        order = (
            torch.arange(n_samples) if generator is None
            else torch.randperm(n_samples, generator=generator)
        )
        epoch_loss = 0.0
        for start in range(0, n_samples, batch_size):
            rows = order[start : start + batch_size]
            f = F.leaky_relu(X[rows] @ weight.T + bias, slope) @ readout
            value = _from_scratch_loss(f, y_index[rows], loss, class_weight)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            epoch_loss += value.item() * len(rows) / n_samples
        if plateau is not None:
            plateau.step(epoch_loss)
    return weight.detach(), bias.detach()


def _sgd(lr, momentum=0.9, **settings):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum, **settings)


def _assert_trained_as(module, expected, initial, rtol=1e-5):
    for name, want in zip(("weight", "bias"), expected):
        got = getattr(module, name).detach()
        assert not torch.equal(want, getattr(initial, name).detach())
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


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
        shuffle_seed=clf.net_.iterator_train__seed,
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


# Settings of the optimizer that the closed-form step must honour, each large
# enough to change the weights of plain SGD with momentum 0.9 at lr 0.05.
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


@pytest.mark.parametrize(
    "labels", [np.array(["no", "yes"]), np.array([-1, 1]), np.array([3, 7])]
)
def test_two_classes_map_to_minus_and_plus_one_in_order(binary_data, labels):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(10, max_epochs=30, random_state=0).fit(X, labels[y])
    assert np.array_equal(clf.classes_, labels)
    margins = clf.decision_function(X)
    assert margins.shape == (len(X),) and margins.dtype == np.float32
    assert np.array_equal(clf.predict(X), labels[(margins > 0).astype(int)])
    assert np.array_equal(margins, clf.module_(torch.as_tensor(X, dtype=torch.float32))
                          .detach().numpy())
    assert clf.score(X, labels[y]) > 0.95


def test_multiclass_outputs(multiclass_data):
    X, y = multiclass_data
    clf = WideTwoLayerNetClassifier(max_epochs=200, random_state=0).fit(X, y)
    logits = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert logits.shape == proba.shape == (len(X), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.predict(X), logits.argmax(axis=1))
    assert clf.score(X, y) > 0.9


def test_predict_proba_is_sigmoid_of_margin(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(
        10, loss="identity", max_epochs=30, random_state=0
    ).fit(X, y)
    proba = clf.predict_proba(X)
    expected = 1 / (1 + np.exp(-clf.decision_function(X).astype(np.float64)))
    assert np.allclose(proba[:, 1], expected)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_float64_inputs_and_dtype(binary_data):
    X, y = binary_data
    float32 = WideTwoLayerNetClassifier(8, max_epochs=5, random_state=0)
    assert float32.fit(X.astype(np.float64), y).decision_function(X).dtype == np.float32
    float64 = WideTwoLayerNetClassifier(8, max_epochs=5, dtype="float64", random_state=0)
    assert float64.fit(X, y).decision_function(X).dtype == np.float64
    assert float64.module_.weight.dtype == torch.float64
    # The same seed gives the same initial weights in either precision.
    assert np.allclose(
        float32.fit(X, y).decision_function(X), float64.decision_function(X), atol=1e-4
    )


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


def test_verbose_shows_a_progress_bar(binary_data, capsys):
    X, y = binary_data
    WideTwoLayerNetClassifier(8, max_epochs=3, verbose=1, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "/3 [" in err and "epoch" in err
    WideTwoLayerNetClassifier(8, max_epochs=3, random_state=0).fit(X, y)
    assert capsys.readouterr().err == ""


def test_pandas_input_records_feature_names(binary_data):
    pd = pytest.importorskip("pandas")
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    clf = WideTwoLayerNetClassifier(8, max_epochs=5, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert np.array_equal(clf.predict(frame), clf.predict(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_dim": 0}, "'hidden_dim' parameter"),
        ({"slope": 1.0}, "'slope' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"loss": "hinge"}, "'loss' parameter"),
        ({"max_epochs": -1}, "'max_epochs' parameter"),
        ({"lr_scheduler": "cosine"}, "'lr_scheduler' parameter"),
        ({"device": "gpu"}, "device must name a torch device"),
        ({"class_weight": {5: 2.0}}, "class_weight has labels"),
    ],
)
def test_bad_parameters_raise_clear_errors(binary_data, params, match):
    X, y = binary_data
    with pytest.raises(ValueError, match=match):
        WideTwoLayerNetClassifier(**{"max_epochs": 1, **params}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_without_a_gpu_raises(binary_data):
    with pytest.raises(ValueError, match="CUDA is not available"):
        WideTwoLayerNetClassifier(device="cuda").fit(*binary_data)


def test_bad_inputs_raise_clear_errors(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=2, random_state=0)
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[0, 0] = bad
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            clf.fit(X_bad, y)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros_like(y))
    with pytest.raises(TypeError, match="dense data is required"):
        clf.fit(scipy.sparse.csr_matrix(X), y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 6"):
        clf.predict(X[:, :5])


def test_pipeline_grid_search_cross_validation(binary_data):
    X, y = binary_data
    pipe = make_pipeline(
        StandardScaler(), WideTwoLayerNetClassifier(max_epochs=20, random_state=0)
    )
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9
    grid = {"widetwolayernetclassifier__hidden_dim": [4, 16],
            "widetwolayernetclassifier__lr": [0.01, 0.1]}
    sequential = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert np.array_equal(
        sequential.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert np.array_equal(
        sequential.decision_function(X), parallel.decision_function(X)
    )


def test_clone_and_persistence(binary_data, tmp_path):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=10, random_state=0).fit(X, y)
    assert not hasattr(clone(clf), "net_")
    assert clone(clf).get_params() == clf.get_params()
    joblib.dump(clf, tmp_path / "clf.joblib")
    for restored in (joblib.load(tmp_path / "clf.joblib"), pickle.loads(pickle.dumps(clf))):
        assert np.array_equal(restored.decision_function(X), clf.decision_function(X))
        restored.partial_fit(X, y)


@requires_cuda
def test_cuda_fit_predicts_numpy_and_pickles_to_cpu(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=16, max_epochs=20, random_state=0)
    gpu = WideTwoLayerNetClassifier(device="cuda", **params).fit(X, y)
    cpu = WideTwoLayerNetClassifier(**params).fit(X, y)
    assert gpu.module_.weight.is_cuda
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(gpu.decision_function(X), cpu.decision_function(X), atol=1e-4)
    # Loading in a process that sees no GPU maps the weights to the CPU.
    payload = pickle.dumps(gpu).hex()
    script = (
        "import pickle, sys, warnings; warnings.simplefilter('ignore');"
        f"clf = pickle.loads(bytes.fromhex('{payload}'));"
        "print(clf.net_.device, clf.module_.weight.device)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""},
    )
    assert result.stdout.split() == ["cpu", "cpu"]


@pytest.mark.parametrize(
    "device, non_deterministic",
    [("cpu", False), ("cpu:0", False), (torch.device("cpu"), False),
     (torch.device("cpu", 0), False), ("cuda", True), (torch.device("cuda:0"), True)],
)
def test_non_deterministic_tag_follows_the_device_type(device, non_deterministic):
    tags = WideTwoLayerNetClassifier(device=device).__sklearn_tags__()
    assert tags.non_deterministic is non_deterministic


# Failures that speak (issue 10, item 4).


@pytest.mark.parametrize("load", [load_breast_cancer, load_wine])
def test_unscaled_real_data_warns_with_the_cause_and_the_fix(load):
    # Raw breast_cancer and wine under the paper's SGD: the loss jumps to
    # ~6e3 / ~1e4 in the first epochs, the rate is cut to 1e-8, one class is
    # predicted (measured). The default Adam trains on them (see below).
    X, y = load(return_X_y=True)
    with pytest.warns(ConvergenceWarning) as record:
        clf = WideTwoLayerNetClassifier(solver="sgd", random_state=0).fit(X, y)
    diverged, collapsed = [str(w.message) for w in record]
    assert "did not converge" in diverged
    for symptom in ("loss exploded", "cut the learning rate"):
        assert symptom in diverged
    assert "collapsed: it predicts the single class" in collapsed
    assert record[1].category is CollapseWarning
    for message in (diverged, collapsed):
        assert "StandardScaler" in message and "lower lr (now 0.1)" in message
    assert len(np.unique(clf.predict(X))) == 1


@pytest.mark.parametrize("load, floor", [(load_wine, 0.95), (load_breast_cancer, 0.88)])
def test_defaults_train_on_unscaled_data_as_mlp_classifier_does(load, floor):
    # One stratified split of the raw data. Measured: the default (Adam)
    # 0.978 and 0.909, MLPClassifier() 0.911 and 0.923, solver="sgd" 0.333
    # and 0.371 (one class).
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        score = WideTwoLayerNetClassifier(random_state=0).fit(X_train, y_train).score(
            X_test, y_test
        )
        mlp = MLPClassifier(random_state=0).fit(X_train, y_train).score(X_test, y_test)
    assert score >= floor
    assert score >= mlp - 0.03


@pytest.mark.parametrize("load", [load_breast_cancer, load_wine])
def test_standardized_real_data_trains_without_warning(load):
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = WideTwoLayerNetClassifier(random_state=0).fit(X, y)
    # Measured training accuracy: 0.986 and 1.0.
    assert clf.score(X, y) > 0.95


def test_diverged_fit_raises_and_its_model_predicts_nothing(binary_data):
    X, y = binary_data
    # Inputs of 1e30 overflow float32 in SGD's second epoch. (Adam's steps
    # are bounded by lr: it does not overflow in 5 epochs.)
    clf = WideTwoLayerNetClassifier(8, solver="sgd", max_epochs=5, random_state=0)
    with pytest.raises(ValueError, match="diverged.*non-finite.*StandardScaler"):
        clf.fit(X * 1e30, y)
    for method in (clf.predict, clf.decision_function, clf.predict_proba):
        with pytest.raises(ValueError, match="outputs are not finite"):
            method(X)


def test_partial_fit_that_diverges_raises(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, solver="sgd", random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="diverged"):
        clf.partial_fit(X * 1e30, y).partial_fit(X * 1e30, y)


def test_rate_cut_to_the_scheduler_floor_warns():
    # Inputs that are all zero: only the biases learn, the loss stalls near
    # ln 2 and the plateau scheduler cuts lr=1 six times (measured: to 1e-8).
    X, y = np.zeros((40, 3)), np.arange(40) % 2
    params = dict(hidden_dim=8, lr=1.0, max_epochs=200, random_state=0)
    with pytest.warns(ConvergenceWarning, match="cut the learning rate from 1 to 1e-08"):
        WideTwoLayerNetClassifier(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning) as record:
        WideTwoLayerNetClassifier(lr_scheduler=None, **params).fit(X, y)
    assert all("cut the learning rate" not in str(w.message) for w in record)


def test_rate_cut_after_the_loss_converged_does_not_warn():
    # Separable blobs under SGD at lr 10: the loss falls to 0 in float32 and
    # stalls there, so the plateau scheduler cuts the rate to 1e-8
    # (measured); the fit converged and nothing warns.
    X, y = make_blobs(n_samples=60, centers=2, n_features=4, cluster_std=0.5, random_state=0)
    clf = WideTwoLayerNetClassifier(8, solver="sgd", lr=10.0, max_epochs=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] < 1e-7
    assert clf.loss_curve_[-1] < 0.01


# The scikit-learn API of a classifier (issue 10, item 5).


def _repeat_vs_weigh(X, y, weights, **params):
    # Full batch: mini-batches of the repeated rows would hold other rows.
    params = {
        "hidden_dim": 16, "max_epochs": 20, "batch_size": None, "dtype": "float64",
        "random_state": 0,
    } | params
    repeated = WideTwoLayerNetClassifier(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    weighted = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=weights)
    return repeated.decision_function(X), weighted.decision_function(X)


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


def test_bad_sample_weights_raise_clear_errors(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=1)
    with pytest.raises(ValueError, match="2 classes with non-zero sample_weight"):
        clf.fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="Negative values .*sample_weight"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="shape"):
        clf.fit(X, y, sample_weight=np.ones(len(y) + 1))


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


@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
def test_predict_log_proba_is_stable_log_of_predict_proba(request, dataset):
    X, y = request.getfixturevalue(dataset)
    clf = WideTwoLayerNetClassifier(16, max_epochs=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-10, atol=1e-12
    )
    # Margins in the thousands: probabilities round to 0, their logs do not.
    far = X * 1e4
    assert (clf.predict_proba(far) == 0).any()
    log_proba = clf.predict_log_proba(far)
    assert np.isfinite(log_proba).all()
    assert np.array_equal(log_proba.argmax(1), clf.predict_proba(far).argmax(1))


# warm_start and partial_fit that honour changes (issue 10, item 6).


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


@pytest.mark.parametrize(
    "change", [{"hidden_dim": 64}, {"slope": 0.5}, {"dtype": "float64"}, {"device": "cpu:0"}]
)
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
    clf.set_params(lr=0.5, class_weight={0: 2.0}).partial_fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.5
    assert clf.net_.criterion_.class_weight.tolist() == [2.0, 1.0]
    assert len(clf.net_.history) == 2


def test_partial_fit_refuses_balanced_class_weight(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        WideTwoLayerNetClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("device", ["mps", "xla", "meta", "vulkan", "cuda:7", "cuda:99"])
def test_unavailable_devices_raise_the_librarys_error(binary_data, device):
    if torch.device(device).type == "cuda" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the CUDA device")
    with pytest.raises(ValueError, match=f"device='{device}'"):
        WideTwoLayerNetClassifier(max_epochs=1, device=device).fit(*binary_data)
