"""Unit tests of sklearn_pertlearn.theory and of its plot.

References are written independently in numpy (float64) from the formulas of
PAPER.md; Monte Carlo checks draw wide networks from the paper's
initialisation and compare them with the closed forms.
"""

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pertlearn._network import TwoLayerNetwork, leaky_relu_derivative_
from sklearn_pertlearn.theory import (
    LazyRegimeClassifier,
    decision_map,
    direction_cosine_similarity,
    hat_f,
    hat_g,
    perturbation_direction,
    phi_kernel,
)

SLOPES = [0.0, 0.25, 0.99]


def reference_phi(X, Z, slope):
    """PAPER.md's closed form, in float64 numpy."""
    X, Z = np.asarray(X, np.float64), np.asarray(Z, np.float64)
    d = X.shape[1]
    x_norm = (X**2).sum(axis=1) / d + 1
    z_norm = (Z**2).sum(axis=1) / d + 1
    rho = (X @ Z.T / d + 1) / np.sqrt(np.outer(x_norm, z_norm))
    rho = np.clip(rho, -1, 1)
    return (1 + slope) ** 2 / 4 + (1 - slope) ** 2 * np.arcsin(rho) / (2 * np.pi)


# Sums over Phi(X, X) meet rho = 1 on the diagonal, where arcsin turns the
# last bit of rho into about 1e-9 of Phi: the float64 tolerance there.
ATOL = 1e-8

# A working memory (MiB) smaller than any query point needs: scikit-learn
# then warns and the theory takes one point per block.
TINY = 1e-9
ONE_POINT_A_BLOCK = "ignore:Could not adhere to working_memory"


def reference_sums(X, y, slope):
    """Rows (1/N) sum_k y_k Phi(x_n, x_k) x_k."""
    X = np.asarray(X, np.float64)
    return (reference_phi(X, X, slope) * y[None, :]) @ X / len(X)


def shifted_gaussian(n_samples, n_features, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n_samples) % 2 == 0, 1, -1)
    X = rng.standard_normal((n_samples, n_features)) + 0.3 * y[:, None]
    return X.astype(dtype), y


# phi_kernel ------------------------------------------------------------------


@pytest.mark.parametrize("slope", SLOPES)
def test_phi_kernel_matches_the_closed_form(slope):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 7)) * 2
    Z = rng.standard_normal((20, 7))
    phi = phi_kernel(X, Z, slope=slope)
    assert phi.shape == (30, 20)
    np.testing.assert_allclose(phi, reference_phi(X, Z, slope), atol=1e-12)


@pytest.mark.parametrize("slope", SLOPES)
def test_phi_kernel_symmetric_with_known_diagonal_and_range(slope):
    rng = np.random.default_rng(1)
    # Pairs x, -x of large norm push rho towards -1, the kernel's minimum.
    X = rng.standard_normal((40, 5)).astype(np.float32)
    X = np.vstack([X, 100 * X[:5], -100 * X[:5]])
    phi = phi_kernel(X, slope=slope)
    np.testing.assert_array_equal(phi, phi.T)
    np.testing.assert_array_equal(np.diag(phi), np.float32((1 + slope**2) / 2))
    assert phi.min() >= np.float32(slope)
    assert phi.max() <= np.float32((1 + slope**2) / 2)
    # The antipodal pairs come close to the minimum ``slope``.
    # Measured: at most slope + 0.007 (1 - slope)^2.
    assert phi[40:45, 45:50].diagonal().max() < slope + 0.02 * (1 - slope) ** 2


def test_phi_kernel_diagonal_with_explicit_Z_is_close():
    # With Z given, the diagonal goes through arcsin next to rho = 1, where
    # digits are lost: measured errors 1.1e-4 in float32, 4e-9 in float64.
    X = np.random.default_rng(2).standard_normal((50, 20))
    assert np.abs(np.diag(phi_kernel(X, X)) - 0.5).max() < 1e-7
    X32 = X.astype(np.float32)
    assert np.abs(np.diag(phi_kernel(X32, X32)) - 0.5).max() < 1e-3


@pytest.mark.parametrize("slope", [0.0, 0.5])
@pytest.mark.parametrize("n_draws", [100, 1000])
def test_monte_carlo_within_four_over_sqrt_draws(slope, n_draws):
    X, _ = shifted_gaussian(60, 10, seed=3)
    exact = phi_kernel(X, slope=slope)
    estimate = phi_kernel(
        X, method="monte_carlo", n_draws=n_draws, slope=slope, random_state=0
    )
    error = np.abs(estimate - exact).max()
    # Each entry has standard deviation at most 0.5 / sqrt(n_draws). The
    # largest of the 3600 errors measured 0.9 to 1.8 / sqrt(n_draws).
    assert error < 4 / math.sqrt(n_draws)
    # and the estimate is not the exact kernel in disguise.
    assert error > 0.1 / math.sqrt(n_draws)


def test_monte_carlo_converges_and_is_seeded():
    X, _ = shifted_gaussian(40, 8, seed=4)
    Z = X[:10] + 0.5
    exact = phi_kernel(X, Z)

    def error(n_draws, seed):
        return np.abs(
            phi_kernel(X, Z, method="monte_carlo", n_draws=n_draws, random_state=seed)
            - exact
        ).mean()

    # Mean errors measured: 0.038 with 100 draws, 0.0035 with 10000.
    assert error(10_000, 0) < error(100, 0) / 4
    first = phi_kernel(X, Z, method="monte_carlo", random_state=7)
    np.testing.assert_array_equal(
        first, phi_kernel(X, Z, method="monte_carlo", random_state=7)
    )
    assert not np.array_equal(
        first, phi_kernel(X, Z, method="monte_carlo", random_state=8)
    )
    monte_carlo = phi_kernel(X, method="monte_carlo", random_state=0)
    np.testing.assert_array_equal(monte_carlo, monte_carlo.T)


def test_phi_kernel_is_the_mean_over_neurons_of_a_wide_network():
    # The kernel is E[sigma' sigma'] over the network's own initialisation.
    slope = 0.3
    X, _ = shifted_gaussian(20, 6, seed=5)
    network = TwoLayerNetwork(6, 50_000, slope=slope, seed=0, dtype=torch.float64)
    with torch.no_grad():
        pre = network.preactivation(torch.as_tensor(X))
        derivative = leaky_relu_derivative_(pre.clone(), network.slope)
    empirical = (derivative @ derivative.T / 50_000).numpy()
    # 4 / sqrt(50000) = 0.018; the measured maximum error is 0.0026.
    assert np.abs(empirical - phi_kernel(X, slope=slope)).max() < 0.01


def test_phi_kernel_dtypes_and_inputs():
    X64 = np.random.default_rng(6).standard_normal((5, 3))
    assert phi_kernel(X64).dtype == np.float64
    assert phi_kernel(X64.astype(np.float32)).dtype == np.float32
    assert phi_kernel(X64.astype(np.float32), X64).dtype == np.float64
    assert phi_kernel([[1, 2, 3]]).dtype == np.float32
    assert phi_kernel(X64, method="monte_carlo", random_state=0).dtype == np.float64
    np.testing.assert_allclose(
        phi_kernel(X64.tolist()), phi_kernel(X64), rtol=0, atol=1e-6
    )


@pytest.mark.filterwarnings(ONE_POINT_A_BLOCK)
def test_blocks_do_not_change_results():
    X, y = shifted_gaussian(23, 4, seed=7)
    Z = X[:11] * 1.5
    monte_carlo = phi_kernel(X, Z, method="monte_carlo", random_state=0)
    # One query point per block, so that every loop runs many times.
    with sklearn.config_context(working_memory=TINY):
        np.testing.assert_allclose(
            phi_kernel(X, Z, method="monte_carlo", random_state=0),
            monte_carlo,
            atol=ATOL,
        )
        np.testing.assert_allclose(phi_kernel(X, Z), reference_phi(X, Z, 0.0), atol=ATOL)
        np.testing.assert_allclose(phi_kernel(X), reference_phi(X, X, 0.0), atol=ATOL)
        sums = reference_sums(X, y, 0.0)
        np.testing.assert_allclose(
            perturbation_direction(X, y),
            sums / np.linalg.norm(sums, axis=1, keepdims=True),
            atol=ATOL,
        )
        expected_f = (y[:, None] * reference_phi(X, Z, 0.0) * (X @ Z.T)).mean(axis=0)
        np.testing.assert_allclose(hat_f(X, y, Z), expected_f, atol=ATOL)
        X_adv = X[::-1] * 0.1
        expected_g = (reference_phi(X_adv, Z, 0.0) * (sums @ Z.T)).mean(axis=0)
        np.testing.assert_allclose(hat_g(X, y, Z, X_adv), expected_g, atol=ATOL)


# perturbation_direction and direction_cosine_similarity ----------------------


@pytest.mark.parametrize("slope", [0.0, 0.5])
def test_perturbation_direction_matches_reference(slope):
    X, y = shifted_gaussian(40, 6, seed=9)
    direction = perturbation_direction(X, y, slope=slope)
    sums = reference_sums(X, y, slope)
    np.testing.assert_allclose(
        direction, sums / np.linalg.norm(sums, axis=1, keepdims=True), atol=ATOL
    )
    np.testing.assert_allclose(np.linalg.norm(direction, axis=1), 1.0)


def test_direction_is_the_gradient_change_of_a_wide_network():
    # Theorem 3.3 on a network trained by hand: in the lazy regime (activation
    # patterns held), one identity-loss gradient step on the first-layer
    # weights moves grad_x f(x_n) along the predicted direction, in the limit
    # of infinite width.
    X, y = shifted_gaussian(30, 20, seed=10)
    network = TwoLayerNetwork(20, 100_000, seed=1, dtype=torch.float64)
    X_t = torch.as_tensor(X)
    margin_grad = -torch.as_tensor(y, dtype=torch.float64) / len(y)
    with torch.no_grad():
        pre = network.preactivation(X_t)
        grad_weight, _ = network.parameter_gradients(X_t, pre, margin_grad)
        # grad_x f(x) = sum_k a_k sigma'_k(x) w_k, with the patterns fixed.
        derivative = leaky_relu_derivative_(pre.clone(), network.slope)
        change = (derivative * network.readout) @ -grad_weight
    change = change.numpy()
    cosine = (change * perturbation_direction(X, y)).sum(axis=1) / np.linalg.norm(
        change, axis=1
    )
    # Measured: min cosine 0.999994 over the 30 points.
    assert cosine.min() > 0.99


def test_cosine_similarity_values():
    X, y = shifted_gaussian(50, 30, seed=11)
    direction = perturbation_direction(X, y)
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(50, 1))
    assert direction_cosine_similarity(X, y, 0.01 * signs * direction) == (
        pytest.approx(1.0, abs=1e-12)
    )
    noise = np.random.default_rng(1).standard_normal(X.shape)
    # Random directions in 30 dimensions: E|cos| is about sqrt(2 / (30 pi)) =
    # 0.146 (measured 0.147); half signal, half noise measured 0.69.
    assert direction_cosine_similarity(X, y, noise) < 0.3
    assert direction_cosine_similarity(X, y, np.zeros_like(X)) == 0.0
    halfway = direction + noise / np.linalg.norm(noise, axis=1, keepdims=True)
    assert 0.5 < direction_cosine_similarity(X, y, halfway) < 0.95


def test_label_and_shape_errors():
    X, y = shifted_gaussian(10, 3, seed=12)
    with pytest.raises(ValueError, match=r"labels -1 and \+1.*\[0, 1\]"):
        perturbation_direction(X, (y + 1) // 2)
    with pytest.raises(ValueError, match="labels -1 and"):
        hat_f(X, np.where(y == 1, "a", "b"), X)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        perturbation_direction(X, y[:-1])
    with pytest.raises(ValueError, match=r"perturbations must have the shape"):
        direction_cosine_similarity(X, y, X[:, :2])
    with pytest.raises(ValueError, match="Z has 2 features, but X has 3"):
        hat_f(X, y, X[:, :2])
    with pytest.raises(ValueError, match="X_adv must have the shape"):
        hat_g(X, y, X, X[:5])
    with pytest.raises(ValueError, match="Z has 4 features, but X has 3"):
        phi_kernel(X, np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        phi_kernel(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="inf"):
        hat_f(X, y, np.full((2, 3), np.inf))


def test_parameter_errors():
    X = np.ones((3, 2))
    with pytest.raises(InvalidParameterError, match="'slope' parameter of phi_kernel"):
        phi_kernel(X, slope=1.0)
    with pytest.raises(InvalidParameterError, match="'method' parameter"):
        phi_kernel(X, method="mc")
    with pytest.raises(InvalidParameterError, match="'n_draws' parameter"):
        phi_kernel(X, method="monte_carlo", n_draws=0)
    with pytest.raises(ValueError, match="device must name a torch device.*'gpu'"):
        phi_kernel(X, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            hat_f(X, [1, -1, 1], X, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    X, y = shifted_gaussian(200, 30, seed=13)
    Z = X[:50] * 1.3
    np.testing.assert_allclose(
        phi_kernel(X, Z, device="cuda"), phi_kernel(X, Z), atol=1e-10
    )
    np.testing.assert_allclose(
        hat_g(X, y, Z, 0.1 * X, device="cuda"), hat_g(X, y, Z, 0.1 * X), atol=1e-10
    )
    clf = LazyRegimeClassifier(device="cuda").fit(X, y)
    np.testing.assert_allclose(clf.decision_function(Z), hat_f(X, y, Z), atol=1e-10)


# hat_f and hat_g -----------------------------------------------------------


@pytest.mark.parametrize("slope", [0.0, 0.5])
def test_hat_f_and_hat_g_match_reference(slope):
    X, y = shifted_gaussian(35, 8, seed=14)
    Z = np.random.default_rng(0).standard_normal((17, 8)) * 3
    X_adv = 0.05 * np.random.default_rng(1).standard_normal(X.shape)
    phi_xz = reference_phi(X, Z, slope)
    np.testing.assert_allclose(
        hat_f(X, y, Z, slope=slope),
        (y[:, None] * phi_xz * (X @ Z.T)).mean(axis=0),
        atol=ATOL,
    )
    sums = reference_sums(X, y, slope)
    np.testing.assert_allclose(
        hat_g(X, y, Z, X_adv, slope=slope),
        (reference_phi(X_adv, Z, slope) * (sums @ Z.T)).mean(axis=0),
        atol=ATOL,
    )
    np.testing.assert_allclose(hat_f(X, -y, Z), -hat_f(X, y, Z), atol=ATOL)
    np.testing.assert_allclose(hat_g(X, -y, Z, X_adv), -hat_g(X, y, Z, X_adv))


def test_hat_f_is_what_a_wide_network_learns():
    # One identity-loss gradient step of size lr on the first-layer weights
    # changes f by lr * hat_f, in the limit of infinite width.
    X, y = shifted_gaussian(40, 25, seed=15)
    Z = np.random.default_rng(2).standard_normal((60, 25)) * 1.5
    network = TwoLayerNetwork(25, 100_000, seed=2, dtype=torch.float64)
    X_t, Z_t = torch.as_tensor(X), torch.as_tensor(Z)
    lr = 1e-3
    with torch.no_grad():
        pre = network.preactivation(X_t)
        margin_grad = -torch.as_tensor(y, dtype=torch.float64) / len(y)
        grad_weight, _ = network.parameter_gradients(X_t, pre, margin_grad)
        before = network(Z_t)
        network.weight -= lr * grad_weight
        learned = ((network(Z_t) - before) / lr).numpy()
    predicted = hat_f(X, y, Z)
    # Measured relative error 0.009 (sum_k a_k^2 is 1.003 here, not 1, and
    # the activation patterns that the step flips add the rest).
    assert np.abs(learned - predicted).max() < 0.03 * np.abs(predicted).max()


def test_hat_g_follows_the_lazy_limit_of_g():
    # g trained in the lazy limit on perturbations r_n = eps y_adv_n q_n/|q_n|
    # is LazyRegimeClassifier fitted on (r, y_adv); hat_g drops the positive
    # factors eps / |q_n| and must have the same sign almost everywhere.
    X, y = shifted_gaussian(200, 50, seed=16)
    y_adv = np.random.default_rng(3).choice([-1, 1], size=len(y))
    X_adv = 0.01 * y_adv[:, None] * perturbation_direction(X, y)
    Z, _ = shifted_gaussian(500, 50, seed=17)
    g_lazy = LazyRegimeClassifier().fit(X_adv, y_adv).decision_function(Z)
    agreement = np.mean(np.sign(g_lazy) == np.sign(hat_g(X, y, Z, X_adv)))
    # Measured: 1.0 for both; hat_f itself is right on 97.8 % of Z.
    assert agreement > 0.98
    assert np.mean(np.sign(hat_g(X, y, Z, X_adv)) == np.sign(hat_f(X, y, Z))) > 0.98


# LazyRegimeClassifier ------------------------------------------------------


def test_classifier_decision_is_hat_f_with_any_labels():
    X, y = shifted_gaussian(60, 10, seed=18)
    Z = X[:20] + 0.1
    labels = np.where(y == 1, "spam", "eggs")  # "spam" sorts last: +1
    clf = LazyRegimeClassifier(slope=0.25).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["eggs", "spam"])
    np.testing.assert_allclose(
        clf.decision_function(Z), hat_f(X, y, Z, slope=0.25), atol=1e-12
    )
    assert clf.decision_function(Z).dtype == np.float64
    assert clf.fit(X.astype(np.float32), labels).decision_function(Z).dtype == (
        np.float64
    )
    assert clf.decision_function(Z.astype(np.float32)).dtype == np.float32
    predicted = clf.predict(Z)
    np.testing.assert_array_equal(predicted == "spam", clf.decision_function(Z) > 0)


def test_classifier_multiclass_scores():
    rng = np.random.default_rng(19)
    centres = 3 * rng.standard_normal((3, 6))
    y = np.repeat([0, 1, 2], 30)
    X = centres[y] + rng.standard_normal((90, 6))
    clf = LazyRegimeClassifier().fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (90, 3)
    # The coefficients 1[y = k] - 1/K sum to zero over k.
    np.testing.assert_allclose(scores.sum(axis=1), 0, atol=1e-10)
    # Class k's score is hat_f of "k against the rest", up to a shared term.
    one_vs_rest = hat_f(X, np.where(y == 1, 1, -1), X)
    np.testing.assert_allclose(
        2 * scores[:, 1] - one_vs_rest,
        (1 - 2 / 3) * hat_f(X, np.ones(90), X),
        atol=1e-10,
    )
    # Measured training accuracy 0.89 on these overlapping blobs.
    assert clf.score(X, y) > 0.8


def test_classifier_errors_and_tools():
    X, y = shifted_gaussian(80, 50, seed=20)
    with pytest.raises(ValueError, match="at least 2 classes.*got 1 class"):
        LazyRegimeClassifier().fit(X, np.ones(80))
    with pytest.raises(InvalidParameterError, match="'slope' parameter"):
        LazyRegimeClassifier(slope=-0.1).fit(X, y)
    with pytest.raises(ValueError, match="device must name a torch device"):
        LazyRegimeClassifier(device="tpu!").fit(X, y)
    with pytest.raises(ValueError, match="expecting 50 features"):
        LazyRegimeClassifier().fit(X, y).predict(X[:, :3])
    # Measured mean accuracy 0.975; the Bayes accuracy is 0.98.
    assert cross_val_score(LazyRegimeClassifier(), X, y, cv=4).mean() > 0.9
    clf = pickle.loads(pickle.dumps(LazyRegimeClassifier().fit(X, y)))
    np.testing.assert_array_equal(clf.decision_function(X), hat_f(X, y, X))


# decision_map and its plot -------------------------------------------------


def test_decision_map_contents():
    X, y = shifted_gaussian(80, 12, seed=21)
    f = LazyRegimeClassifier().fit(X, y)
    X_adv = 0.05 * np.random.default_rng(4).standard_normal(X.shape)
    result = decision_map(
        X, y, f, lambda Z: -Z.sum(axis=1), X_adv=X_adv, limits=(-3, 5), resolution=9
    )
    u1, u2 = result.axes
    np.testing.assert_allclose(
        u1, X[y == 1].mean(0) / np.linalg.norm(X[y == 1].mean(0))
    )
    np.testing.assert_allclose(
        u2, X[y == -1].mean(0) / np.linalg.norm(X[y == -1].mean(0))
    )
    assert result.xx.shape == result.yy.shape == (9, 9)
    np.testing.assert_allclose(result.xx[0], np.linspace(-3, 5, 9))
    np.testing.assert_allclose(result.yy[:, 0], np.linspace(-3, 5, 9))
    grid = result.xx.reshape(-1, 1) * u1 + result.yy.reshape(-1, 1) * u2
    np.testing.assert_allclose(result.f.ravel(), f.decision_function(grid))
    np.testing.assert_allclose(result.g.ravel(), -grid.sum(axis=1))
    np.testing.assert_allclose(result.hat_f.ravel(), hat_f(X, y, grid), atol=ATOL)
    np.testing.assert_allclose(
        result.hat_g.ravel(), hat_g(X, y, grid, X_adv), atol=ATOL
    )
    np.testing.assert_array_equal(
        result.agreement, np.sign(result.f) == np.sign(result.g)
    )
    assert 0 < result.agreement.mean() < 1
    np.testing.assert_array_equal(result.y, y)


@pytest.mark.filterwarnings(ONE_POINT_A_BLOCK)
def test_decision_map_projection_and_blocks():
    X, y = shifted_gaussian(30, 6, seed=22)
    X_adv = 0.1 * X[::-1]
    f, g = (lambda Z: Z[:, 0]), (lambda Z: Z[:, 0] - Z[:, 1])
    whole = decision_map(X, y, f, g, X_adv=X_adv, resolution=5)
    with sklearn.config_context(working_memory=TINY):
        blocked = decision_map(X, y, f, g, X_adv=X_adv, resolution=5)
    for key in ("f", "g", "agreement", "hat_f", "hat_g", "X_plane"):
        np.testing.assert_allclose(blocked[key], whole[key], atol=1e-12)
    same = decision_map(X, y, f, f, resolution=5)
    assert same.agreement.all() and same.hat_g is None
    # u1 and u2 are far from orthogonal (measured u1 . u2 = -0.76), yet
    # X_plane holds the coordinates of the orthogonal projection: what is
    # left of x_n is orthogonal to the plane.
    axes = whole.axes
    assert axes[0] @ axes[1] < -0.5
    np.testing.assert_allclose((X - whole.X_plane @ axes) @ axes.T, 0, atol=1e-12)


def test_decision_map_errors():
    X, y = shifted_gaussian(10, 3, seed=23)
    f = LazyRegimeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="both labels"):
        decision_map(X, np.ones(10), f, f)
    with pytest.raises(ValueError, match="limits must be a pair"):
        decision_map(X, y, f, f, limits=(3, -3))
    with pytest.raises(ValueError, match="limits must be a pair"):
        decision_map(X, y, f, f, limits=(0, 1, 2))
    with pytest.raises(ValueError, match="g must give one decision value per point"):
        decision_map(X, y, f, lambda Z: np.ones((len(Z), 3)), resolution=3)
    with pytest.raises(InvalidParameterError, match="'f' parameter"):
        decision_map(X, y, "f", f)
    with pytest.raises(InvalidParameterError, match="'resolution' parameter"):
        decision_map(X, y, f, f, resolution=1)
    with pytest.raises(ValueError, match="zero vector"):
        decision_map([[1, 2, 0], [-1, -2, 0], [0, 1, 1]], [1, 1, -1], f, f)


def test_plot_decision_map():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_pertlearn.plotting import plot_decision_map

    X, y = shifted_gaussian(40, 5, seed=24)
    f = LazyRegimeClassifier().fit(X, y)
    result = decision_map(
        X, y, f, lambda Z: Z[:, 1], X_adv=0.1 * X, resolution=20, limits=(-2, 2)
    )
    _, ax = plt.subplots()
    assert plot_decision_map(result, ax=ax) is ax
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "sign f = sign g",
        "sign f ≠ sign g",
        r"$\hat f = 0$",
        r"$\hat g = 0$",
        "samples +1",
        "samples -1",
    ]
    assert [float(v) for v in ax.get_xlim()] == [-2.0, 2.0]
    plt.close("all")
    ax = plot_decision_map(result, show_data=False, legend=False)
    assert ax.get_legend() is None and not ax.collections[-1].get_label().startswith(
        "samples"
    )
    plt.close("all")


def test_plot_without_matplotlib(monkeypatch):
    from sklearn_pertlearn.plotting import plot_decision_map

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[plot\]"'):
        plot_decision_map(None)


_READ_ONLY_SCRIPT = """
import numpy as np
from sklearn_pertlearn import theory
rng = np.random.default_rng(0)
X = rng.standard_normal((12, 3)).astype(np.float32)
y = np.where(np.arange(12) % 2 == 0, 1, -1)
Z, X_adv = X[:5] + 0.5, X + 0.1
def results():
    return [
        theory.phi_kernel(X, Z),
        theory.hat_f(X, y, Z),
        theory.hat_g(X, y, Z, X_adv),
        theory.perturbation_direction(X, y),
        theory.direction_cosine_similarity(X, y, X_adv),
        theory.LazyRegimeClassifier().fit(X, y).decision_function(Z),
        theory.decision_map(X, y, theory.LazyRegimeClassifier().fit(X, y),
                            theory.LazyRegimeClassifier().fit(X, y), X_adv=X_adv,
                            resolution=4).hat_g,
    ]
writeable = results()
for array in (X, y, Z, X_adv):
    array.setflags(write=False)
for got, want in zip(results(), writeable):
    np.testing.assert_array_equal(got, want)
"""


def test_read_only_inputs_give_no_warning():
    # Memory maps and pandas' values are read-only, and torch warns (once per
    # process, hence a fresh one) when it wraps them: any warning is an error.
    subprocess.run(
        [sys.executable, "-W", "error", "-c", _READ_ONLY_SCRIPT], check=True,
        capture_output=True, text=True,
    )
