"""WideTwoLayerNetClassifier says when a fit failed, and stays silent when it did not."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_pertlearn import WideTwoLayerNetClassifier, _convergence
from sklearn_pertlearn.classifier import CollapseWarning





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



# The rules themselves, on made-up loss curves: no network needed.


def test_first_nonfinite_finds_the_first_bad_epoch():
    assert _convergence.first_nonfinite([0.7, 0.5, 0.4]) is None
    assert _convergence.first_nonfinite([0.7, float("inf"), float("nan")]) == 2


@pytest.mark.parametrize(
    "losses, loss, peak",
    [
        ([0.7, 0.6, 7.1], "logistic", 2),  # above 10 times the first epoch's
        ([0.7, 6.9, 0.5], "logistic", None),  # below it
        ([0.7, 0.6, 70.0], "identity", None),  # the identity loss is unbounded
        ([], "logistic", None),
    ],
)
def test_exploded_compares_the_peak_with_the_first_epoch(losses, loss, peak):
    assert _convergence.exploded(losses, loss) == peak


def test_stalled_means_the_rate_cut_to_its_floor():
    assert _convergence.stalled(lr=1.0, final_lr=1e-8, scheduled=True)
    assert not _convergence.stalled(lr=1.0, final_lr=1e-5, scheduled=True)
    assert not _convergence.stalled(lr=1.0, final_lr=1e-8, scheduled=False)


def test_at_chance_is_a_kappa_below_a_tenth():
    y = np.array([0, 1] * 50)
    assert _convergence.at_chance(y, np.ones(100, int)) == 0.0
    # 56 of 100 right, balanced predictions: kappa 0.12, above the threshold.
    nearly = y.copy()
    nearly[:44] = 1 - nearly[:44]
    assert _convergence.at_chance(y, nearly) is None
    assert _convergence.at_chance(y, y) is None
    # Weights count: the rows that disagree weigh nothing.
    wrong_first = y.copy()
    wrong_first[:50] = 1 - wrong_first[:50]
    assert _convergence.at_chance(y, wrong_first) is not None
    assert _convergence.at_chance(y, wrong_first, np.r_[np.zeros(50), np.ones(50)]) is None


def test_collapsed_means_one_predicted_class_for_several_true_ones():
    assert _convergence.collapsed(np.zeros(5), np.array([0, 0, 1, 1, 1]))
    assert not _convergence.collapsed(np.zeros(5), np.zeros(5))
    assert not _convergence.collapsed(np.array([0, 1, 1]), np.array([0, 1, 1]))


# MLPClassifier's tol, n_iter_no_change and early stopping.


def test_tol_stops_a_converged_fit_and_warns_on_one_that_is_not(binary_data):
    X, y = binary_data
    # Full-batch SGD at lr 1e-3 creeps: 5 epochs end still improving.
    slow = WideTwoLayerNetClassifier(
        8, solver="sgd", lr=1e-3, max_epochs=5, tol=1e-6, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match=r"maximum epochs \(5\) reached .*training loss"):
        slow.fit(X, y)
    assert slow.n_iter_ == 5
    # A loss that stops falling by tol ends the fit early, silently.
    done = WideTwoLayerNetClassifier(8, max_epochs=500, tol=1e-2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        done.fit(X, y)
    assert done.n_iter_ < 500
    # The stop came after n_iter_no_change + 1 epochs without a gain of tol.
    curve = np.array(done.loss_curve_)
    best_before = curve[: -(done.n_iter_no_change + 1)].min()
    assert (curve[-(done.n_iter_no_change + 1) :] > best_before - 1e-2).all()
    assert done.best_loss_ == curve.min() and done.validation_scores_ is None
    # tol=None (the default) trains every epoch.
    every = WideTwoLayerNetClassifier(8, max_epochs=60, random_state=0).fit(X, y)
    assert every.n_iter_ == 60


def test_the_identity_loss_is_not_stopped_by_tol(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(
        8, loss="identity", solver="sgd", max_epochs=30, tol=10.0, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 30


def test_early_stopping_keeps_the_best_validation_epoch():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = WideTwoLayerNetClassifier(
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=5, max_epochs=200,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The stop came n_iter_no_change + 1 epochs after the best one.
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ == best_epoch + 1 + clf.n_iter_no_change + 1
    # The held-out rows are the same for the same random_state.
    again = clone(clf).fit(X, y)
    assert again.validation_scores_ == clf.validation_scores_


@pytest.mark.parametrize(
    "params, fix",
    [
        # Training accuracy 0.62 in both (class 1 for 98.5 % of the rows),
        # kappa about 0: measured on standardized breast_cancer.
        ({"lr": 1e-7}, r"barely moved.*raise lr \(now 1e-07\)"),
        ({"solver": "sgd", "max_epochs": 1}, "barely moved"),
    ],
)
def test_a_fit_that_learned_nothing_says_so(params, fix):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with pytest.warns(ConvergenceWarning, match=f"learned nothing.*kappa.*{fix}"):
        WideTwoLayerNetClassifier(random_state=0, **params).fit(X, y)
