"""Tests of the attack functions and the target-label strategies."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sklearn_pertlearn._network import TwoLayerNetwork
from sklearn_pertlearn.perturbation import (
    adversarial_examples,
    make_targets,
    targeted_perturbation,
)


class _AutogradOnly(nn.Module):
    """The same network without its closed-form ``input_gradient``."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, X):
        return self.network(X)


def _data(n_samples=40, n_features=6, seed=0, dtype=np.float32):
    return np.random.RandomState(seed).normal(size=(n_samples, n_features)).astype(dtype)


def _net(n_features=6, n_outputs=1, slope=0.0, dtype=torch.float32):
    return TwoLayerNetwork(
        n_features, hidden_dim=30, n_outputs=n_outputs, slope=slope, seed=1, dtype=dtype
    )


def _targets(n_samples, n_classes, seed=2):
    return np.random.RandomState(seed).randint(n_classes, size=n_samples)


def _reference_fgm(module, X, target, epsilon):
    """Targeted fast-gradient L2 attack written the textbook way, with autograd.

    Descend the loss of the target (margin loss -y f for two classes, cross
    entropy for K) and normalise the gradient, as the authors' code does.
    """
    X = torch.as_tensor(X).requires_grad_(True)
    target = torch.as_tensor(target)
    output = module(X)
    if output.dim() == 1:
        loss = (-(2 * target - 1) * output).sum()
    else:
        loss = F.cross_entropy(output, target, reduction="sum")
    (grad,) = torch.autograd.grad(loss, X)
    return (-epsilon * F.normalize(grad, dim=1)).detach().numpy()


def _relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l2_step_is_the_targeted_fast_gradient_attack(n_outputs, dtype):
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    net = _net(n_outputs=n_outputs, dtype=dtype)
    X = _data(dtype=np_dtype)
    target = _targets(len(X), max(n_outputs, 2))
    r = targeted_perturbation(net, X, target, epsilon=0.3)
    reference = _reference_fgm(net, X, target, 0.3)
    # Measured: about 1e-7 in float32, 2e-16 in float64.
    assert _relative_error(r, reference) <= 1e-6
    assert r.dtype == np_dtype


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize("norm, steps", [("l2", 1), ("linf", 1), ("l2", 5)])
def test_closed_form_and_autograd_paths_agree(n_outputs, norm, steps):
    net = _net(n_outputs=n_outputs, slope=0.3)
    X = _data()
    target = _targets(len(X), max(n_outputs, 2))
    kwargs = dict(epsilon=0.5, norm=norm, steps=steps)
    closed_form = targeted_perturbation(net, X, target, **kwargs)
    autograd = targeted_perturbation(_AutogradOnly(net), X, target, **kwargs)
    np.testing.assert_allclose(closed_form, autograd, rtol=1e-5, atol=1e-6)


def test_margin_gradient_is_autograds_and_needs_two_classes():
    net, X = _net(slope=0.3), torch.as_tensor(_data())
    X.requires_grad_(True)
    (expected,) = torch.autograd.grad(net(X).sum(), X)
    torch.testing.assert_close(net.margin_gradient(X.detach()), expected)
    with pytest.raises(ValueError, match="two-class network"):
        _net(n_outputs=3).margin_gradient(X.detach())


def test_l2_perturbation_has_length_epsilon_in_every_row():
    X = _data(n_samples=500)
    r = targeted_perturbation(_net(), X, _targets(500, 2), epsilon=0.01)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 0.01, rtol=1e-6)


def test_step_moves_towards_the_target():
    net, X = _net(), _data(n_samples=200)
    target = _targets(len(X), 2)
    sign = 2 * target - 1
    r = targeted_perturbation(net, X, target, epsilon=1e-2)
    with torch.no_grad():
        before = net(torch.from_numpy(X)).numpy()
        after = net(torch.from_numpy(X + r)).numpy()
    # A first-order step of 1e-2: the target margin grows for every sample
    # whose ReLU pattern does not change on the way.
    assert np.mean(sign * (after - before) > 0) > 0.95


def test_cross_entropy_step_raises_the_target_probability():
    net, X = _net(n_outputs=3), _data(n_samples=200)
    target = _targets(len(X), 3)
    r = targeted_perturbation(net, X, target, epsilon=1e-2)
    rows = np.arange(len(X))
    with torch.no_grad():
        before = torch.log_softmax(net(torch.from_numpy(X)), 1).numpy()[rows, target]
        after = torch.log_softmax(net(torch.from_numpy(X + r)), 1).numpy()[
            rows, target
        ]
    assert np.mean(after > before) > 0.95


def test_linf_step_is_epsilon_times_sign():
    net, X = _net(), _data()
    target = _targets(len(X), 2)
    r = targeted_perturbation(net, X, target, epsilon=0.2, norm="linf")
    l2 = targeted_perturbation(net, X, target, epsilon=0.2)
    np.testing.assert_array_equal(np.abs(r), np.float32(0.2))
    np.testing.assert_array_equal(np.sign(r), np.sign(l2))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_stays_in_the_ball_and_beats_one_step(norm):
    net, X = _net(n_outputs=1), _data(n_samples=300)
    target = _targets(len(X), 2)
    sign = 2 * target - 1
    one = targeted_perturbation(net, X, target, epsilon=1.0, norm=norm)
    pgd = targeted_perturbation(net, X, target, epsilon=1.0, norm=norm, steps=10)
    if norm == "l2":
        assert np.linalg.norm(pgd, axis=1).max() <= 1.0 + 1e-6
    else:
        assert np.abs(pgd).max() <= 1.0
    with torch.no_grad():
        score_one = sign * net(torch.from_numpy(X + one)).numpy()
        score_pgd = sign * net(torch.from_numpy(X + pgd)).numpy()
    # Measured on this network: mean target margin 0.415 after one L2 step,
    # 0.453 after ten (0.760 and 0.851 for L_inf), spread about 0.85.
    assert score_pgd.mean() > score_one.mean() + 0.02


def test_step_size_bounds_the_distance_travelled():
    net, X = _net(), _data()
    target = _targets(len(X), 2)
    r = targeted_perturbation(net, X, target, epsilon=10.0, steps=3, step_size=0.1)
    assert np.linalg.norm(r, axis=1).max() <= 0.3 + 1e-5


def test_clip_keeps_perturbed_points_in_range():
    X = np.random.RandomState(0).uniform(size=(50, 6)).astype(np.float32)
    net = _net()
    target = _targets(len(X), 2)
    r = targeted_perturbation(net, X, target, epsilon=0.5, steps=4, clip=(0.0, 1.0))
    assert (X + r).min() >= 0.0
    assert (X + r).max() <= 1.0
    assert np.abs(r).sum() > 0


def test_zero_gradient_gives_zero_perturbation():
    net = _net()
    with torch.no_grad():
        # Every ReLU is off everywhere near the data: the gradient is 0.
        net.bias.fill_(-1e4)
    X = _data()
    for norm in ("l2", "linf"):
        r = targeted_perturbation(net, X, _targets(len(X), 2), epsilon=1.0, norm=norm)
        np.testing.assert_array_equal(r, 0.0)


def test_zero_epsilon_gives_zero_perturbation():
    X = _data()
    r = targeted_perturbation(_net(), X, _targets(len(X), 2), epsilon=0.0, steps=3)
    np.testing.assert_array_equal(r, 0.0)


def test_batching_does_not_change_the_result():
    net, X = _net(n_outputs=3), _data(n_samples=101)
    target = _targets(len(X), 3)
    whole = targeted_perturbation(net, X, target, epsilon=0.5, steps=3)
    batched = targeted_perturbation(net, X, target, epsilon=0.5, steps=3, batch_size=7)
    np.testing.assert_allclose(whole, batched, rtol=1e-6, atol=1e-7)


def test_float64_input_on_a_float32_module():
    X = _data(dtype=np.float64)
    r = targeted_perturbation(_net(), X, _targets(len(X), 2), epsilon=1.0)
    assert r.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "X, target, kwargs, match",
    [
        (np.full((3, 6), np.nan), [0, 1, 0], {}, "NaN"),
        (np.full((3, 6), np.inf, dtype=np.float32), [0, 1, 0], {}, "infinity"),
        ([[np.nan] * 6] * 3, [0, 1, 0], {}, "NaN"),
        (np.zeros((3, 5)), [0, 1, 0], {}, "X has 5 features, but the module expects 6"),
        (np.zeros((3, 6)), [0, 1], {}, r"target must have shape \(3,\)"),
        (np.zeros((3, 6)), [0, 2, 1], {}, r"class indices in \[0, 1\]"),
        (np.zeros((3, 6)), [0.0, 1.0, 0.5], {}, "integer class indices"),
        (np.zeros((0, 6)), [], {}, "0 sample"),
        (np.zeros((3, 6)), [0, 1, 0], {"epsilon": -1.0}, "'epsilon' parameter"),
        (np.zeros((3, 6)), [0, 1, 0], {"norm": "l1"}, "'norm' parameter"),
        (np.zeros((3, 6)), [0, 1, 0], {"steps": 0}, "'steps' parameter"),
        (np.zeros((3, 6)), [0, 1, 0], {"clip": (1.0, 0.0)}, r"low < high, got \(1.0"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, target, kwargs, match):
    kwargs = {"epsilon": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        targeted_perturbation(_net(), X, target, **kwargs)


def test_adversarial_examples_bases():
    net, X = _net(), _data()
    target = _targets(len(X), 2)
    r = targeted_perturbation(net, X, target, epsilon=0.1)
    np.testing.assert_array_equal(
        adversarial_examples(net, X, target, epsilon=0.1, base="none"), r
    )
    np.testing.assert_array_equal(
        adversarial_examples(net, X, target, epsilon=0.1, base="data"), X + r
    )


def test_uniform_base_is_seeded_noise_in_the_clip_range():
    net, X = _net(), _data(n_samples=500)
    target = _targets(len(X), 2)
    kwargs = dict(epsilon=0.01, base="uniform", clip=(-1.0, 2.0), random_state=3)
    X_adv = adversarial_examples(net, X, target, **kwargs)
    np.testing.assert_array_equal(X_adv, adversarial_examples(net, X, target, **kwargs))
    assert -1.0 <= X_adv.min() < -0.9 and 1.9 < X_adv.max() <= 2.0
    noise = np.random.RandomState(3).uniform(-1.0, 2.0, X.shape).astype(np.float32)
    length = np.linalg.norm(X_adv - noise, axis=1)
    # Rows whose noise lies near the edge of the range are clipped shorter.
    assert length.max() <= 0.01 + 1e-6
    assert np.median(length) == pytest.approx(0.01, rel=1e-5)
    # Without clip the noise is uniform on [0, 1): epsilon 0 returns it as drawn.
    default = adversarial_examples(net, X, target, epsilon=0.0, base="uniform", random_state=4)
    expected = np.random.RandomState(4).uniform(0.0, 1.0, X.shape).astype(np.float32)
    np.testing.assert_array_equal(default, expected)


def test_adversarial_examples_rejects_unknown_base():
    with pytest.raises(ValueError, match="'base' parameter"):
        adversarial_examples(_net(), _data(), _targets(40, 2), epsilon=0.1, base="x")


def test_balanced_targets_are_balanced_and_ignore_y():
    y = np.array([0] * 90 + [1] * 10)
    targets = make_targets(y, [0, 1], random_state=0)
    np.testing.assert_array_equal(np.bincount(targets), [50, 50])
    # Independent of y: the targets of the 90 zeros are not all one class.
    assert 0 < targets[:90].mean() < 1
    counts = np.bincount(make_targets(np.zeros(101), [0, 1, 2], random_state=1))
    assert counts.max() - counts.min() <= 1


def test_random_targets_are_seeded_and_not_balanced_by_design():
    y = np.zeros(1000)
    a = make_targets(y, [-1, 1], strategy="random", random_state=0)
    np.testing.assert_array_equal(
        a, make_targets(y, [-1, 1], strategy="random", random_state=0)
    )
    assert not np.array_equal(
        a, make_targets(y, [-1, 1], strategy="random", random_state=1)
    )
    imbalance = [
        abs((make_targets(y, [-1, 1], strategy="random", random_state=s) == 1).sum()
            - 500)
        for s in range(10)
    ]
    # Binomial(1000, 1/2) has a standard deviation of about 16.
    assert max(imbalance) > 5


def test_random_other_never_keeps_the_label():
    y = np.random.RandomState(0).choice(["a", "b", "c"], size=300)
    targets = make_targets(y, ["a", "b", "c"], strategy="random_other", random_state=0)
    assert not np.any(targets == y)
    assert set(targets) == {"a", "b", "c"}


def test_shift_follows_the_order_of_classes():
    np.testing.assert_array_equal(
        make_targets(["x", "y", "z"], ["z", "x", "y"], strategy="shift"),
        ["y", "z", "x"],
    )
    np.testing.assert_array_equal(
        make_targets([-1, 1], [-1, 1], strategy="shift"), [1, -1]
    )


def test_make_targets_errors():
    with pytest.raises(ValueError, match=r"not in classes: \[5\]"):
        make_targets([0, 5], [0, 1], strategy="shift")
    with pytest.raises(ValueError, match="'strategy' parameter"):
        make_targets([0, 1], [0, 1], strategy="uniform")
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_targets([0, 0], [0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_attack_on_gpu_matches_cpu():
    net, X = _net(), _data()
    target = _targets(len(X), 2)
    cpu = targeted_perturbation(net, X, target, epsilon=0.5, steps=3)
    gpu = targeted_perturbation(net.to("cuda"), X, target, epsilon=0.5, steps=3)
    assert isinstance(gpu, np.ndarray)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
