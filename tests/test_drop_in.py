"""The defaults as a drop-in for MLPClassifier and skorch users: a grid over
the default network, and data frames without warnings about feature names."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from sklearn_pertlearn import (
    AdversarialPerturbationSampler,
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
)
from sklearn_pertlearn.classifier import default_network
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_scorer


def test_headline_grid_searches_the_default_networks_width():
    # The grid of DESIGN.md on the defaults; estimator=None used to fail in
    # set_params ('NoneType' object has no attribute 'set_params').
    X, y = make_shifted_gaussian(80, 10, random_state=0)
    grid = GridSearchCV(
        PerturbationLearningClassifier(random_state=0),
        {"estimator__hidden_dim": [100, 1000], "epsilon": [1.0, "auto"]},
        cv=2,
    ).fit(X, y)
    assert sorted(grid.cv_results_["param_estimator__hidden_dim"]) == [100, 100, 1000, 1000]
    best = grid.best_estimator_
    width = grid.best_params_["estimator__hidden_dim"]
    # f and g (student=None: a clone of estimator) both have the searched width.
    for network in (best.source_estimator_[-1], best.estimator_[-1]):
        assert network.hidden_dim == width
        assert network.solver == "sgd"


@pytest.mark.parametrize(
    "make, name",
    [
        (PerturbationLearningClassifier, "estimator"),
        (AdversarialPerturbationTransformer, "estimator"),
        (AdversarialPerturbationSampler, "transformer"),
    ],
)
def test_nested_parameters_of_a_default_left_as_none(make, name):
    default = (
        default_network if name == "estimator" else AdversarialPerturbationTransformer
    )
    nested = {"hidden_dim": 100} if name == "estimator" else {"epsilon": 0.5}
    meta = make()
    assert meta.set_params(**{f"{name}__{key}": value for key, value in nested.items()}) is meta
    expected = default().set_params(**nested).get_params()
    assert getattr(meta, name).get_params() == expected
    # Built per call, never a default shared between instances.
    assert getattr(make(), name) is None
    assert getattr(clone(meta), name).get_params() == expected
    assert getattr(clone(meta), name) is not getattr(meta, name)
    # get_params and set_params round-trip, with the default and without.
    for estimator in (make(), meta):
        params = estimator.get_params(deep=True)
        assert clone(estimator).set_params(**params).get_params(deep=True).keys() == params.keys()


def test_fit_leaves_estimator_none():
    X, y = make_shifted_gaussian(40, 5, random_state=0)
    clf = PerturbationLearningClassifier(random_state=0).fit(X, y)
    assert clf.estimator is None and clf.student is None
    assert isinstance(clf.estimator_[-1], WideTwoLayerNetClassifier)


def test_delegated_methods_follow_the_default_and_its_replacement():
    assert hasattr(PerturbationLearningClassifier(), "predict_proba")
    assert hasattr(PerturbationLearningClassifier(), "decision_function")
    assert not hasattr(PerturbationLearningClassifier(SVC()), "predict_proba")


def _breast_cancer(frame, standardize):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X, y = X.iloc[::3], y.iloc[::3]
    if not standardize:
        # The raw features diverge unscaled; scaling them here keeps the frame.
        X = (X - X.mean()) / X.std()
    return (X if frame else X.to_numpy()), y.to_numpy()


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("frame", [True, False], ids=["DataFrame", "array"])
def test_no_feature_name_warnings_through_the_internal_pipelines(frame, standardize):
    X, y = _breast_cancer(frame, standardize)
    net = WideTwoLayerNetClassifier(100, solver="sgd", max_epochs=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = PerturbationLearningClassifier(net, standardize=standardize, random_state=0)
        clf.fit(X, y)
        for network in (clf.source_estimator_, clf.estimator_):
            network.predict(X)
        assert agreement_scorer(clf, X) > 0.9
        clf.predict(X)
        clf.predict_proba(X)
        clf.decision_function(X)
        clf.score(X, y)
    assert hasattr(clf, "feature_names_in_") == frame
    for network in (clf.source_estimator_, clf.estimator_):
        assert hasattr(network, "feature_names_in_") == frame


@pytest.mark.parametrize("frame", [True, False], ids=["DataFrame", "array"])
def test_transformer_set_output_without_feature_name_warnings(frame):
    X, y = _breast_cancer(frame, standardize=False)
    net = WideTwoLayerNetClassifier(50, solver="sgd", max_epochs=5, random_state=0)
    attack = AdversarialPerturbationTransformer(net, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = attack.set_output(transform="pandas").fit_transform(X, y)
        attack.estimator_.predict(X)
    names = X.columns if frame else [f"x{i}" for i in range(X.shape[1])]
    assert list(out.columns) == list(names)
    assert np.isfinite(out.to_numpy()).all()


@pytest.mark.parametrize("standardize", [True, False])
def test_skorch_networks_get_arrays_from_a_data_frame(standardize):
    # skorch reads a frame as its columns, the keyword arguments of the
    # module's forward; f and g must get the array, even when scikit-learn is
    # told to output frames.
    skorch = pytest.importorskip("skorch")
    from sklearn import config_context
    from torch import nn

    X, y = _breast_cancer(frame=True, standardize=standardize)
    X = X.astype(np.float32)
    net = skorch.NeuralNetClassifier(
        nn.Sequential(nn.Linear(X.shape[1], 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss, max_epochs=2, train_split=None, verbose=0,
    )
    with config_context(transform_output="pandas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        clf = PerturbationLearningClassifier(net, standardize=standardize, random_state=0)
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clf.predict(X).shape == y.shape
        if standardize:
            agreement_scorer(clf, X)
    assert not hasattr(clf.source_estimator_[-1] if standardize else clf.source_estimator_,
                       "feature_names_in_")
