"""Tests of PerturbationLearningClassifier (its faithfulness to the paper is in
test_faithfulness.py)."""

import warnings

import joblib
import numpy as np
from scipy.special import expit
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_score, agreement_scorer
from sklearn_pertlearn.perturbation_learning import PerturbationLearningClassifier


def _net(**params):
    return WideTwoLayerNetClassifier(
        **{
            "hidden_dim": 100,
            "slope": 0.0,
            "loss": "identity",
            "solver": "sgd",
            "lr": 1.0,
            "max_epochs": 30,
            "random_state": 0,
        }
        | params
    )


def _data(n_samples=200, n_features=30, seed=0):
    return make_shifted_gaussian(n_samples, n_features, random_state=seed)


class CountingNet(WideTwoLayerNetClassifier):
    """Counts its fits, in this process, to see what joblib.Memory saves."""

    fits = []

    def fit(self, X, y):
        CountingNet.fits.append(self.hidden_dim)
        return super().fit(X, y)


def test_fit_trains_f_on_clean_data_and_g_on_the_attack_only():
    X, y = _data()
    clf = PerturbationLearningClassifier(
        _net(), epsilon=0.05, standardize=False, store_adversarial=True, random_state=0
    ).fit(X, y)
    f, g = clf.source_estimator_, clf.estimator_
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    # f is a clone of estimator with a seed drawn from random_state, fitted
    # on (X, y) ...
    refit_f = clone(_net()).set_params(random_state=f.random_state).fit(X, y)
    np.testing.assert_array_equal(f.decision_function(X), refit_f.decision_function(X))
    # ... and g a clone with another seed, fitted on (X_adv_, y_adv_) only.
    assert g.random_state != f.random_state
    refit_g = clone(_net()).set_params(random_state=g.random_state)
    refit_g.fit(clf.X_adv_, clf.y_adv_)
    np.testing.assert_array_equal(g.decision_function(X), refit_g.decision_function(X))
    np.testing.assert_allclose(np.linalg.norm(clf.X_adv_, axis=1), 0.05, rtol=1e-5)
    np.testing.assert_array_equal(np.bincount(clf.y_adv_ + 1)[[0, 2]], [100, 100])
    # Predictions are g's, its margin moved by the offsets that match_rates
    # fitted to f's class rates on X.
    shift = clf.offsets_[1] - clf.offsets_[0]
    assert shift != 0
    np.testing.assert_allclose(clf.decision_function(X), g.decision_function(X) + shift)
    shifted = g.decision_function(X) + shift
    np.testing.assert_array_equal(clf.predict(X), np.where(shifted > 0, 1, -1))
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expit(shifted), rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.mean(clf.predict(X) == 1), np.mean(f.predict(X) == 1))
    # Without the shift, they are g's own, bit for bit (the paper's procedure).
    paper = clone(clf).set_params(match_rates=False).fit(X, y)
    np.testing.assert_array_equal(paper.offsets_, [0.0, 0.0])
    g = paper.estimator_
    np.testing.assert_array_equal(paper.predict(X), g.predict(X))
    np.testing.assert_array_equal(paper.decision_function(X), g.decision_function(X))
    np.testing.assert_array_equal(paper.predict_proba(X), g.predict_proba(X))
    assert paper.score(X, y) == g.score(X, y)


def test_adversarial_data_is_not_kept_by_default():
    X, y = _data(n_samples=40)
    clf = PerturbationLearningClassifier(_net(max_epochs=1), random_state=0).fit(X, y)
    assert not hasattr(clf, "X_adv_") and not hasattr(clf, "y_adv_")


def test_random_state_makes_fits_bit_for_bit_repeatable():
    X, y = _data()
    params = dict(epsilon=0.05, targets="random", random_state=7)
    a = PerturbationLearningClassifier(_net(random_state=None), **params).fit(X, y)
    b = PerturbationLearningClassifier(_net(random_state=None), **params).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    c = PerturbationLearningClassifier(_net(), epsilon=0.05, random_state=8).fit(X, y)
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))


def test_student_can_be_any_classifier():
    X, y = _data()
    clf = PerturbationLearningClassifier(
        _net(), student=LogisticRegression(), epsilon=0.05, standardize=False,
        random_state=0,
    ).fit(X, y)
    assert isinstance(clf.estimator_, LogisticRegression)
    # A linear student trained on the perturbations of a network that
    # separates the classes: measured 0.96 on these data.
    assert clf.score(X, y) >= 0.9


def test_delegated_methods_follow_the_student():
    assert hasattr(PerturbationLearningClassifier(), "predict_proba")
    assert not hasattr(PerturbationLearningClassifier(student=SVC()), "predict_proba")
    assert hasattr(PerturbationLearningClassifier(student=SVC()), "decision_function")
    X, y = _data(n_samples=40)
    clf = PerturbationLearningClassifier(_net(max_epochs=1), student=SVC()).fit(X, y)
    assert not hasattr(clf, "predict_proba")


def test_three_string_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 20)).astype(np.float32)
    labels = np.array(["a", "b", "c"])
    y = labels[np.arange(150) % 3]
    X[np.arange(150), np.arange(150) % 3] += 4
    clf = PerturbationLearningClassifier(
        _net(loss="logistic", lr=0.5, max_epochs=50), epsilon=0.5, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, labels)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.predict_proba(X).shape == (150, 3)


def test_targets_that_miss_a_class_are_a_clear_error():
    X, y = _data(n_samples=4)
    # Search a seed whose four random targets are all one class.
    for seed in range(100):
        clf = PerturbationLearningClassifier(
            _net(max_epochs=1), targets="random", store_adversarial=True,
            random_state=seed,
        )
        try:
            clf.fit(X, y)
        except ValueError as error:
            assert "drew only the classes" in str(error)
            assert "targets='balanced'" in str(error)
            break
    else:
        pytest.fail("no seed out of 100 drew a single class")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"epsilon": -0.1}, "'epsilon' parameter"),
        ({"targets": "other"}, "'targets' parameter"),
        ({"base": "zeros"}, "'base' parameter"),
        ({"memory": 3}, "'memory' parameter"),
        ({"estimator": LogisticRegression()}, "must expose its fitted torch network"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _data(n_samples=20)
    with pytest.raises(ValueError, match=match):
        PerturbationLearningClassifier(**({"estimator": _net(max_epochs=1)} | params)).fit(
            X, y
        )


def test_bad_input():
    X, y = _data(n_samples=20)
    clf = PerturbationLearningClassifier(_net(max_epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict(X[:, :3])
    X_inf = X.copy()
    X_inf[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.predict(X_inf)


def test_memory_fits_f_once_per_width_and_split(tmp_path):
    X, y = _data(n_samples=120)
    epsilons, widths, cv = [0.0, 0.01, 0.02], [20, 40], KFold(2)
    grid = {"epsilon": epsilons, "estimator__hidden_dim": widths}

    def n_source_fits(memory):
        CountingNet.fits.clear()
        learner = PerturbationLearningClassifier(
            CountingNet(**_net(max_epochs=5).get_params()),
            student=_net(max_epochs=5),
            memory=memory,
            random_state=0,
        )
        search = GridSearchCV(learner, grid, cv=cv, scoring=agreement_scorer)
        search.fit(X, y)
        return len(CountingNet.fits), search

    uncached, plain = n_source_fits(None)
    cached, memoised = n_source_fits(joblib.Memory(tmp_path / "memory", verbose=0))
    refit = 1
    assert uncached == len(epsilons) * len(widths) * cv.get_n_splits() + refit
    assert cached == len(widths) * cv.get_n_splits() + refit
    # Caching changes nothing in the results.
    np.testing.assert_array_equal(
        plain.cv_results_["mean_test_score"], memoised.cv_results_["mean_test_score"]
    )
    # A path works as well as a Memory, and a second search reuses the cache.
    assert n_source_fits(tmp_path / "path")[0] == cached
    assert n_source_fits(str(tmp_path / "path"))[0] == 0


def test_grid_search_with_the_agreement_scorer():
    X, y = _data(n_samples=200, n_features=30)
    learner = PerturbationLearningClassifier(_net(), random_state=0)
    search = GridSearchCV(
        learner,
        {"epsilon": [0.0, 0.05]},
        cv=KFold(2),
        scoring={"agreement": agreement_scorer, "accuracy": "accuracy"},
        refit="agreement",
    ).fit(X, y)
    agreement = search.cv_results_["mean_test_agreement"]
    # Measured: 0.45 with epsilon 0 (g stays at its initialisation) and 0.975
    # with epsilon 0.05.
    assert agreement[0] < 0.75 and agreement[1] >= 0.9
    assert search.best_params_ == {"epsilon": 0.05}
    f = search.best_estimator_.source_estimator_
    g = search.best_estimator_.estimator_
    assert agreement_score(f.predict(X), g.predict(X)) >= 0.9


def test_agreement_scorer_through_a_pipeline():
    X, y = _data(n_samples=200, n_features=30)
    pipeline = make_pipeline(
        StandardScaler(), PerturbationLearningClassifier(_net(), epsilon=0.05, random_state=0)
    ).fit(X, y)
    learner = pipeline[-1]
    X_scaled = pipeline[0].transform(X)
    # f's predictions against the learner's own, which are g's with offsets_.
    expected = agreement_score(
        learner.source_estimator_.predict(X_scaled), learner.predict(X_scaled)
    )
    assert agreement_scorer(pipeline, X, y) == expected


# Sample weights, verbose, and failures that speak (issue 10).


def test_sample_weights_reach_f_and_g_for_the_same_rows():
    X, y = _data()
    weights = np.random.RandomState(0).uniform(0.0, 2.0, size=len(y))
    clf = PerturbationLearningClassifier(
        _net(), epsilon=0.05, standardize=False, store_adversarial=True, random_state=0
    ).fit(X, y, sample_weight=weights)
    f, g = clf.source_estimator_, clf.estimator_
    refit_f = clone(_net()).set_params(random_state=f.random_state)
    refit_f.fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(f.decision_function(X), refit_f.decision_function(X))
    # Row i of the adversarial data is the attack on row i: the same weight.
    refit_g = clone(_net()).set_params(random_state=g.random_state)
    refit_g.fit(clf.X_adv_, clf.y_adv_, sample_weight=weights)
    np.testing.assert_array_equal(g.decision_function(X), refit_g.decision_function(X))
    unweighted = PerturbationLearningClassifier(
        _net(), epsilon=0.05, standardize=False, random_state=0
    )
    assert not np.array_equal(
        unweighted.fit(X, y).decision_function(X), clf.decision_function(X)
    )


def test_sample_weights_need_estimators_that_take_them():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _data(n_samples=40)
    clf = PerturbationLearningClassifier(_net(), student=KNeighborsClassifier())
    with pytest.raises(ValueError, match="student=KNeighborsClassifier does not accept"):
        clf.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="Negative values"):
        PerturbationLearningClassifier(_net()).fit(X, y, sample_weight=-np.ones(len(y)))


def test_verbose_prints_the_three_steps_and_reaches_f_and_g(capsys):
    X, y = _data(n_samples=40)
    clf = PerturbationLearningClassifier(
        _net(max_epochs=2), standardize=False, verbose=1, random_state=0
    )
    clf.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in out[1::2]] == [
        "[PerturbationLearningClassifier] (step 1 of 3) fitting f on the clean data",
        "[PerturbationLearningClassifier] (step 2 of 3) attacking f",
        "[PerturbationLearningClassifier] (step 3 of 3) fitting g on the adversarial data",
    ]
    assert all("total=" in line for line in out[1::2])
    assert clf.source_estimator_.verbose == 1 and clf.estimator_.verbose == 1
    PerturbationLearningClassifier(_net(max_epochs=2), random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_student_that_collapses_on_the_clean_data_warns_with_context():
    from sklearn.dummy import DummyClassifier

    X, y = _data(n_samples=40)
    clf = PerturbationLearningClassifier(
        _net(), student=DummyClassifier(), epsilon=0.05, random_state=0
    )
    with pytest.warns(
        ConvergenceWarning, match=r"student g .*epsilon=0.05.*single class .* clean training"
    ):
        clf.fit(X, y)


def test_student_below_chance_warns_with_context():
    # The paper's settings with epsilon=0.01 and the authors' random targets
    # on standardized iris: g agrees with f on 0.333 of the clean data
    # (measured with this seed), a silently wrong classifier; the warning
    # gives the chance-corrected agreement and what epsilon="auto" would take.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    net = WideTwoLayerNetClassifier(loss="identity", solver="sgd", lr=1.0, max_epochs=100)
    clf = PerturbationLearningClassifier(
        net, epsilon=0.01, targets="random", match_rates=False, random_state=1
    )
    with pytest.warns(
        ConvergenceWarning,
        match=r"student g .*epsilon=0.01.*'auto' would take 0\.\d+.*learned little of f.*kappa",
    ):
        clf.fit(X, y)


def test_student_judged_on_the_clean_data():
    # Scenario a with the paper's small epsilon: g predicts one class on its
    # own, epsilon-short training rows (measured) but classifies the clean
    # data, so nothing warns.
    X, y = _data()
    clf = PerturbationLearningClassifier(
        _net(), epsilon=0.05, store_adversarial=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert len(np.unique(clf.estimator_.predict(clf.X_adv_))) == 1
    assert clf.score(X, y) > 0.9


def test_source_that_fails_warns_with_context():
    X, y = load_breast_cancer(return_X_y=True)
    # The paper's SGD on raw data (the default Adam trains on it).
    clf = PerturbationLearningClassifier(
        WideTwoLayerNetClassifier(16, solver="sgd", max_epochs=30), standardize=False
    )
    with pytest.warns(ConvergenceWarning, match=r"^The source network f .*StandardScaler"):
        clf.set_params(random_state=0).fit(X, y)


def test_huge_epsilon_is_a_clear_error_not_nan():
    X, y = _data(n_samples=40)
    # 1e30 is finite in float32, but g's training on it overflows.
    with pytest.raises(ValueError, match=r"student g .*epsilon=1e\+30.*diverged"):
        PerturbationLearningClassifier(_net(), epsilon=1e30, random_state=0).fit(X, y)
    # 1e39 overflows float32 in the attack itself.
    with pytest.raises(ValueError, match="perturbations are not finite.*smaller epsilon"):
        PerturbationLearningClassifier(_net(), epsilon=1e39, random_state=0).fit(X, y)


# Defaults that work on real data of any scale (issue 10, items 1 and 2).


@pytest.mark.parametrize("base", ["none", "data"])
def test_defaults_learn_three_classes_from_perturbations_of_raw_data(base):
    # Raw wine (3 classes, features from 0.1 to 1700), one stratified split.
    # Measured in both scenarios: f 1.0, g 0.978, agreement 0.978.
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    clf = PerturbationLearningClassifier(base=base, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.93
    assert agreement_scorer(clf, X_test) >= 0.93


def test_standardize_makes_the_fit_blind_to_the_scale_of_the_data():
    X, y = load_iris(return_X_y=True)
    params = dict(estimator=_net(max_epochs=20), random_state=0)
    clf = PerturbationLearningClassifier(**params).fit(X, y)
    rescaled = PerturbationLearningClassifier(**params).fit(1000.0 * X - 3.0, y)
    np.testing.assert_array_equal(rescaled.predict(1000.0 * X - 3.0), clf.predict(X))
    assert rescaled.epsilon_ == pytest.approx(clf.epsilon_, rel=1e-4)
    # f and g are pipelines that take the data as given.
    assert clf.source_estimator_[0] is clf.scaler_ and clf.estimator_[0] is clf.scaler_
    assert agreement_scorer(clf, X) == agreement_score(
        clf.source_estimator_.predict(X), clf.predict(X)
    )


def test_auto_epsilon_is_measured_where_the_attack_works():
    # With standardize=True the radius is 0.3 times the median norm of the
    # standardized rows, and the stored adversarial examples are in the units
    # of X: scenario a's perturbations sit on the mean of the data.
    X, y = _data()
    X = 50.0 * X + 2.0
    clf = PerturbationLearningClassifier(
        _net(max_epochs=2), store_adversarial=True, random_state=0
    ).fit(X, y)
    Z = clf.scaler_.transform(X)
    assert clf.epsilon_ == pytest.approx(0.3 * np.median(np.linalg.norm(Z, axis=1)), rel=1e-6)
    r = clf.scaler_.transform(clf.X_adv_)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), clf.epsilon_, rtol=1e-4)
    # The paper's absolute epsilon, meant for rows of norm about 5, is lost
    # on rows of norm 277: g agrees with f on 0.43 of them (kappa -0.14,
    # measured), and the warning names the scale that "auto" would take.
    paper = PerturbationLearningClassifier(
        _net(max_epochs=2), epsilon=0.05, standardize=False, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match=r"median l2 norm of 277.*'auto' would take 83"):
        paper.fit(X, y)
    assert paper.scaler_ is None and paper.epsilon_ == 0.05


def test_clip_needs_the_units_of_x():
    X, y = _data(n_samples=20)
    clf = PerturbationLearningClassifier(_net(max_epochs=1), clip=(0, 1))
    with pytest.raises(ValueError, match=r"clip=\(0, 1\) is a range in the units of X"):
        clf.fit(X, y)
