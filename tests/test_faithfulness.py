"""The paper's results, reproduced with fixed seeds.

Every threshold below sits well inside a value measured with this library on
the same seed (stated beside it). The configuration is the authors' sG(a):
mean-shifted Gaussian, d = 100, m = 100, N = 1000, epsilon = 0.01, identity
loss, full-batch SGD with momentum, 1000 epochs for f and g, lr 1, scenario a
(``base="none"``), on the data as they are (``standardize=False``). Every
classifier parameter is set explicitly, so that a change of defaults cannot
move these tests.
"""

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_score
from sklearn_pertlearn.perturbation_learning import PerturbationLearningClassifier

N_SAMPLES, N_FEATURES, EPSILON = 1000, 100, 0.01


def _paper_net(max_epochs=1000, lr=1.0):
    return WideTwoLayerNetClassifier(
        hidden_dim=100,
        slope=0.0,
        loss="identity",
        solver="sgd",
        lr=lr,
        max_epochs=max_epochs,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        random_state=0,
    )


def _paper_results(clf, X, y, seed, n_features=N_FEATURES):
    """f's and g's accuracy on D, and their agreement on 1000 fresh samples."""
    X_test, _ = make_shifted_gaussian(1000, n_features, random_state=1000 + seed)
    f, g = clf.source_estimator_, clf.estimator_
    return (
        f.score(X, y),
        g.score(X, y),
        agreement_score(f.predict(X_test), g.predict(X_test)),
    )


def test_sga_student_learns_from_perturbations_only():
    X, y = make_shifted_gaussian(N_SAMPLES, N_FEATURES, random_state=0)
    clf = PerturbationLearningClassifier(
        _paper_net(),
        standardize=False,
        epsilon=EPSILON,
        base="none",
        targets="balanced",
        store_adversarial=True,
        random_state=0,
    ).fit(X, y)
    # The perturbation of the trained f is exactly epsilon long in every row.
    np.testing.assert_allclose(np.linalg.norm(clf.X_adv_, axis=1), EPSILON, rtol=1e-5)
    # Half of the targets contradict y, and g sees nothing else ...
    assert 0.4 < np.mean(clf.y_adv_ == y) < 0.6
    f_accuracy, g_accuracy, agreement = _paper_results(clf, X, y, seed=0)
    # ... yet, measured: f 1.000, g 1.000 on D, agreement 1.000. (Seeds 0-4
    # with lr 1 and 0.1: g >= 0.997 and agreement >= 0.998 in every one.)
    assert f_accuracy >= 0.95
    assert g_accuracy >= 0.9
    assert agreement >= 0.9


def test_balanced_targets_rescue_a_seed_that_random_targets_lose(tmp_path):
    # Seed 34 draws 535 positive random targets out of 1000. With the identity
    # loss g's bias absorbs that imbalance and g predicts one class: measured
    # g 0.500 on D, agreement 0.500 (seeds 24 and 27, with 530 and 534, do the
    # same; seed 2, with 516, reaches 0.74). Balanced targets on the same seed
    # and the same f: measured g 1.000, agreement 1.000.
    seed = 34
    X, y = make_shifted_gaussian(N_SAMPLES, N_FEATURES, random_state=seed)
    results = {}
    for targets in ("random", "balanced"):
        clf = PerturbationLearningClassifier(
            _paper_net(),
            standardize=False,
            epsilon=EPSILON,
            base="none",
            targets=targets,
            memory=joblib.Memory(tmp_path, verbose=0),
            store_adversarial=True,
            random_state=seed,
        ).fit(X, y)
        results[targets] = _paper_results(clf, X, y, seed) + (np.mean(clf.y_adv_ == 1),)
    assert results["random"][0] == results["balanced"][0]  # the same f
    assert abs(results["random"][3] - 0.5) >= 0.02
    assert results["balanced"][3] == 0.5
    assert results["random"][1] <= 0.6 and results["random"][2] <= 0.6
    assert results["balanced"][1] >= 0.9 and results["balanced"][2] >= 0.9


def test_zero_epsilon_in_scenario_a_gives_chance():
    # g sees only zero vectors. With balanced targets its gradients vanish, so
    # it keeps its random initialisation, which is why 100 epochs (instead of
    # 1000) measure the same. Measured g accuracy on D for seeds 0-4: 0.661,
    # 0.489, 0.468, 0.490, 0.483 (mean 0.518): chance on average, while one
    # random initialisation can be lucky.
    accuracies = []
    for seed in range(5):
        X, y = make_shifted_gaussian(N_SAMPLES, N_FEATURES, random_state=seed)
        clf = PerturbationLearningClassifier(
            _paper_net(max_epochs=100),
            standardize=False,
            epsilon=0.0,
            base="none",
            targets="balanced",
            match_rates=False,
            random_state=seed,
        ).fit(X, y)
        accuracies.append(clf.score(X, y))
        initial = clone(clf.estimator_).set_params(max_epochs=0).fit(X, y)
        np.testing.assert_allclose(
            clf.decision_function(X), initial.decision_function(X), rtol=1e-4, atol=1e-4
        )
    assert np.mean(accuracies) <= 0.6


def test_scenario_b_at_reduced_size():
    # sG(b) is d = 5000, N = 10000, epsilon = 0.7; here d = N = 500, 100
    # epochs and epsilon = 2 (still 9 % of the norm of x). Measured: f 1.000,
    # g 1.000 on D, agreement 1.000. At this size epsilon = 0.7 is too small:
    # g then memorises the natural part of x_adv instead (0.49 on D at d = N =
    # 1000).
    n_features = 500
    X, y = make_shifted_gaussian(500, n_features, random_state=0)
    clf = PerturbationLearningClassifier(
        _paper_net(max_epochs=100),
        standardize=False,
        epsilon=2.0,
        base="data",
        targets="balanced",
        store_adversarial=True,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(np.linalg.norm(clf.X_adv_ - X, axis=1), 2.0, rtol=1e-4)
    f_accuracy, g_accuracy, agreement = _paper_results(
        clf, X, y, seed=0, n_features=n_features
    )
    assert f_accuracy >= 0.95
    assert g_accuracy >= 0.9
    assert agreement >= 0.9


@pytest.mark.parametrize("targets", ["random_other", "shift"])
def test_ilyas_targets_also_teach_the_student(targets):
    # Ilyas et al.'s D_rand and D_det: every target contradicts y (for two
    # classes both flip it). Measured on sG(a) with 300 epochs (fewer than
    # the paper's 1000, for speed; the effect is already complete): g 1.000
    # on D and agreement 0.999 for both.
    X, y = make_shifted_gaussian(N_SAMPLES, N_FEATURES, random_state=0)
    clf = PerturbationLearningClassifier(
        _paper_net(max_epochs=300),
        standardize=False,
        epsilon=EPSILON,
        base="none",
        targets=targets,
        store_adversarial=True,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(clf.y_adv_, -y)
    _, g_accuracy, agreement = _paper_results(clf, X, y, seed=0)
    assert g_accuracy >= 0.9 and agreement >= 0.9
