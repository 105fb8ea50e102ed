"""The defaults as a drop-in for MLPClassifier and skorch users: a grid over
the default network."""

import pytest
from sklearn.base import clone
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
