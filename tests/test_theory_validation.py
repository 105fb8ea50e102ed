"""The theory against trained networks (issue 4, item 6), with fixed seeds.

The first configuration is the authors' sG(a): mean-shifted Gaussian, d = 100,
N = 1000, epsilon = 0.01, identity loss, full-batch SGD with momentum 0.9, lr 1,
perturbations alone (scenario a), balanced targets. The networks train for 100
epochs instead of 1000 to keep this file fast: the measured cosine similarities
differ by less than 0.001 between the two (0.9953 and 0.9951 at width 100), and
the agreements by less than 0.01. The second is a small version of the
authors' G(a), Gaussian inputs with random labels, where f can only memorise:
there ``sign hat_f = sign f`` on fresh points is far from what chance or the
true label would give. Every classifier parameter is set explicitly, so that a
change of defaults cannot move these tests. Each threshold sits well inside the
value measured with this library on the same seed, stated beside it.
"""

from functools import lru_cache

import numpy as np
import pytest

from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_gaussian, make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_score
from sklearn_pertlearn.theory import (
    direction_cosine_similarity,
    hat_f,
    hat_g,
    perturbation_direction,
)
from sklearn_pertlearn.transformer import AdversarialPerturbationTransformer

EPOCHS = 100


def _net(hidden_dim, max_epochs=EPOCHS):
    return WideTwoLayerNetClassifier(
        hidden_dim=hidden_dim,
        slope=0.0,
        loss="identity",
        solver="sgd",
        lr=1.0,
        max_epochs=max_epochs,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        random_state=0,
    )


def _attack(kind, f):
    """The paper's attack on ``f``, fitted (``prefit``: f is used as is)."""
    X, y, _ = _data(kind)
    return AdversarialPerturbationTransformer(
        f,
        epsilon=0.01 if kind == "shifted" else 0.1,
        norm="l2",
        steps=1,
        targets="balanced",
        base="none",
        prefit=True,
        random_state=0,
    ).fit(X, y)


def _perturbations(kind, f):
    """Perturbations of the training points of ``kind`` towards random targets."""
    X, y, _ = _data(kind)
    y_target = np.random.default_rng(0).choice(f.classes_, size=len(y))
    return _attack(kind, f).perturb(X, y_target)


@lru_cache
def _data(kind):
    """Training data and 1000 fresh test points of sG(a) or of small G(a)."""
    if kind == "shifted":
        X, y = make_shifted_gaussian(1000, 100, random_state=0)
        X_test, _ = make_shifted_gaussian(1000, 100, random_state=1)
    else:
        X, y = make_gaussian(100, 1000, random_state=0)
        X_test, _ = make_gaussian(1000, 1000, random_state=1)
    return X, y, X_test


@lru_cache
def _f(kind, hidden_dim, max_epochs=EPOCHS):
    X, y, _ = _data(kind)
    return _net(hidden_dim, max_epochs).fit(X, y)


@lru_cache
def _adversarial_data(kind):
    """The adversarial data set of the wide f (m = 1000) and g trained on it."""
    X, y, _ = _data(kind)
    X_adv, y_adv = _attack(kind, _f(kind, 1000)).fit_resample(X, y)
    return X_adv, _net(1000).fit(X_adv, y_adv)


def _cosine_beyond_class_means(kind, perturbations):
    """Mean |cos| of perturbations and theorem 3.3's directions, both with
    their component along the difference of the class means removed."""
    X, y, _ = _data(kind)
    means = X[y == 1].mean(axis=0) - X[y == -1].mean(axis=0)
    unit = means / np.linalg.norm(means)

    def residual(vectors):
        vectors = vectors - np.outer(vectors @ unit, unit)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    theorem = residual(perturbation_direction(X, y))
    return np.abs((residual(perturbations) * theorem).sum(axis=1)).mean()


@pytest.mark.parametrize(
    "hidden_dim, measured", [(10, 0.9952), (100, 0.9953), (1000, 0.9955)]
)
def test_perturbations_point_along_theorem_direction(hidden_dim, measured):
    X, y, _ = _data("shifted")
    perturbations = _perturbations("shifted", _f("shifted", hidden_dim))
    cosine = direction_cosine_similarity(X, y, perturbations)
    # Measured: 0.9952, 0.9953 and 0.9955 at widths 10, 100 and 1000 (the
    # authors report about 0.99).
    assert cosine >= 0.95
    assert cosine == pytest.approx(measured, abs=0.02)


def test_untrained_network_perturbations_do_not():
    # The control: at initialisation grad_x f is a random vector, and so is
    # its direction. Measured 0.068 (width 100; 0.14 at width 10).
    X, y, _ = _data("shifted")
    perturbations = _perturbations("shifted", _f("shifted", 100, max_epochs=0))
    assert direction_cosine_similarity(X, y, perturbations) < 0.3


@pytest.mark.parametrize("kind", ["shifted", "gaussian"])
def test_theorem_direction_beyond_the_class_means(kind):
    # On these data the theorem's direction is nearly the same vector for all
    # n, the difference of the class means (mean |cos| 0.99999 on sG(a),
    # 0.998 on the Gaussian data), and so are the perturbations. What is left
    # once that vector is projected out still follows the theorem: measured
    # 0.517 on sG(a) and 0.562 on the Gaussian data for the wide f, against
    # 0.074 and 0.029 at initialisation.
    trained = _cosine_beyond_class_means(kind, _perturbations(kind, _f(kind, 1000)))
    untrained = _cosine_beyond_class_means(
        kind, _perturbations(kind, _f(kind, 1000, max_epochs=0))
    )
    assert trained > 0.35
    assert untrained < 0.15


@pytest.mark.parametrize("kind, threshold", [("shifted", 0.97), ("gaussian", 0.85)])
def test_sign_of_hat_f_is_the_sign_of_wide_f(kind, threshold):
    # Measured agreement on 1000 fresh points: 1.000 on sG(a), 0.940 on the
    # Gaussian data, whose labels are random: there two unrelated sign
    # functions agree on about half of the points (f retrained from another
    # seed agrees with f on 0.98: its predictions are a function of the data,
    # which hat_f captures).
    X, y, X_test = _data(kind)
    f = _f(kind, 1000)
    agreement = agreement_score(
        np.sign(f.decision_function(X_test)), np.sign(hat_f(X, y, X_test))
    )
    assert agreement >= threshold


@pytest.mark.parametrize("kind, threshold", [("shifted", 0.97), ("gaussian", 0.85)])
def test_sign_of_hat_g_is_the_sign_of_g(kind, threshold):
    # Measured agreement on 1000 fresh points: 1.000 on sG(a) and 0.945 on the
    # Gaussian data; g agrees with f on 1.000 and 0.983 of them. Balanced
    # targets: with the authors' uniform draw, the imbalance of 100 targets
    # moves g's biases, which hat_g leaves out (measured 0.675 there; 0.989
    # on sG(a)).
    X, y, X_test = _data(kind)
    X_adv, g = _adversarial_data(kind)
    agreement = agreement_score(
        np.sign(g.decision_function(X_test)), np.sign(hat_g(X, y, X_test, X_adv))
    )
    assert agreement >= threshold
