"""Tests of the agreement metric and scorer.

The scorer inside GridSearchCV over a real PerturbationLearningClassifier is
tested in test_perturbation_learning.py.
"""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_pertlearn.metrics import agreement_score, agreement_scorer


def test_agreement_score_counts_equal_predictions():
    assert agreement_score([1, -1, 1, -1], [1, -1, -1, 1]) == 0.5
    assert agreement_score(["a", "b"], ["a", "b"]) == 1.0
    assert agreement_score([0, 1, 2], [1, 2, 0]) == 0.0
    a = np.random.RandomState(0).randint(3, size=50)
    b = np.random.RandomState(1).randint(3, size=50)
    assert agreement_score(a, b) == agreement_score(b, a) == np.mean(a == b)


def test_agreement_score_sample_weight():
    assert agreement_score([1, 1, -1], [1, -1, -1], sample_weight=[1, 2, 1]) == 0.5


def test_agreement_score_errors():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        agreement_score([1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="'y_pred_a' parameter"):
        agreement_score(3, [1])


class _FittedPair:
    """Stands for a fitted PerturbationLearningClassifier: its predictions are g's."""

    def __init__(self, source, student):
        self.source_estimator_ = source
        self.estimator_ = student

    def predict(self, X):
        return self.estimator_.predict(X)


def _xy():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    return X, (X[:, 0] > 0).astype(int)


def test_agreement_scorer_compares_source_and_student():
    X, y = _xy()
    learnt = LogisticRegression().fit(X, y)
    constant = DummyClassifier(strategy="constant", constant=1).fit(X, y)
    assert agreement_scorer(_FittedPair(learnt, learnt), X) == 1.0
    assert agreement_scorer(_FittedPair(learnt, constant), X) == pytest.approx(
        np.mean(learnt.predict(X) == 1)
    )


def test_agreement_scorer_goes_through_a_pipeline():
    X, y = _xy()
    flip = FunctionTransformer(np.negative)
    learnt = LogisticRegression().fit(-X, y)
    pair = _FittedPair(learnt, DummyClassifier(strategy="constant", constant=1))
    pair.estimator_.fit(X, y)
    pipeline = make_pipeline(flip, pair)
    pipeline.steps[0] = ("flip", flip.fit(X))
    expected = np.mean(learnt.predict(-X) == 1)
    assert agreement_scorer(pipeline, X) == pytest.approx(expected)


def test_agreement_scorer_rejects_other_estimators():
    X, y = _xy()
    with pytest.raises(ValueError, match="source_estimator_ and estimator_"):
        agreement_scorer(LogisticRegression().fit(X, y), X, y)
