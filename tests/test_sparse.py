"""Sparse input, as MLPClassifier takes it: trained and predicted without densifying."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder, StandardScaler

from sklearn_pertlearn import (
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
)


@pytest.fixture(scope="module")
def half_sparse():
    X, y = load_breast_cancer(return_X_y=True)
    X = MaxAbsScaler().fit_transform(X)
    X[X < 0.3] = 0  # about half of the entries
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        {},  # Adam on mini-batches, shuffled
        {"solver": "sgd"},  # the paper's full batch
        {"batch_size": 64, "class_weight": "balanced"},
        {"early_stopping": True},
    ],
)
@pytest.mark.parametrize("form", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix])
def test_sparse_fits_equal_dense_ones(half_sparse, params, form):
    # float64, where the sparse and the dense products agree to 1e-14.
    X, y = half_sparse
    weights = np.random.RandomState(0).uniform(0.5, 1.5, len(y))
    common = dict(hidden_dim=64, max_epochs=20, dtype="float64", random_state=0, **params)
    dense = WideTwoLayerNetClassifier(**common).fit(X, y, sample_weight=weights)
    sparse = WideTwoLayerNetClassifier(**common).fit(form(X), y, sample_weight=weights)
    np.testing.assert_allclose(
        sparse.decision_function(form(X)), dense.decision_function(X), rtol=1e-10, atol=1e-10
    )
    np.testing.assert_array_equal(sparse.predict(form(X)), dense.predict(X))
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)


def test_sparse_partial_fit_and_float32(half_sparse):
    X, y = half_sparse
    dense = WideTwoLayerNetClassifier(32, random_state=0).partial_fit(X, y, classes=[0, 1])
    sparse = WideTwoLayerNetClassifier(32, random_state=0).partial_fit(
        sp.csr_matrix(X), y, classes=[0, 1]
    )
    np.testing.assert_allclose(
        sparse.decision_function(sp.csr_matrix(X)), dense.decision_function(X), rtol=1e-4,
        atol=1e-5,
    )


def test_mixed_precision_needs_dense_input(half_sparse):
    X, y = half_sparse
    clf = WideTwoLayerNetClassifier(8, max_epochs=1, precision="bf16-mixed")
    with pytest.raises(ValueError, match="dense X only.*precision='32-true'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # bfloat16 emulated on some CPUs
            clf.fit(sp.csr_matrix(X), y)


def test_one_hot_columns_through_a_column_transformer():
    # A categorical column one-hot encoded beside scaled numbers: the
    # ColumnTransformer's output is sparse (sparse_threshold=1), as it is on
    # data sparse enough, and the classifier fits it as MLPClassifier does.
    rng = np.random.RandomState(0)
    n = 300
    frame = pd.DataFrame(
        {
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n),
            "sex": rng.choice(["male", "female"], n),
            "length": rng.normal(45, 5, n),
            "depth": rng.normal(17, 2, n),
        }
    )
    y = np.where((frame["island"] == "Dream") ^ (frame["length"] > 45), "a", "b")
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(), ["island", "sex"]),
            ("numbers", StandardScaler(), ["length", "depth"]),
        ],
        sparse_threshold=1.0,
    )
    assert sp.issparse(columns.fit_transform(frame))
    model = make_pipeline(columns, WideTwoLayerNetClassifier(random_state=0))
    scores = cross_val_score(model, frame, y, cv=3)
    # Measured: 0.97; the rule is one island crossed with one threshold.
    assert scores.mean() > 0.9


@pytest.mark.parametrize("base", ["none", "data"])
def test_perturbation_learning_on_sparse_data_equals_dense(half_sparse, base):
    # Sparse rows are scaled without centring (StandardScaler(with_mean=False));
    # dense rows given the same scaler must give the same f, attack and g.
    X, y = half_sparse
    f = WideTwoLayerNetClassifier(64, solver="sgd", max_epochs=30, dtype="float64")
    sparse = PerturbationLearningClassifier(f, base=base, random_state=0).fit(sp.csr_matrix(X), y)
    assert sparse.scaler_.with_mean is False
    dense = make_pipeline(
        StandardScaler(with_mean=False),
        PerturbationLearningClassifier(f, base=base, standardize=False, random_state=0),
    ).fit(X, y)
    np.testing.assert_allclose(
        sparse.decision_function(sp.csr_matrix(X)), dense.decision_function(X), rtol=1e-8,
        atol=1e-8,
    )
    # Measured: kappa 0.67 (base="data") and above; 0.5 is where the judge warns.
    assert sparse.agreement_kappa_ > 0.6
    # The attack alone takes sparse rows too, in bounded dense batches.
    attack = AdversarialPerturbationTransformer(
        f.set_params(random_state=0), epsilon=0.5, base=base, batch_size=100, random_state=0
    )
    X_adv, _ = attack.fit_resample(sp.csr_matrix(X), y)
    X_adv_dense, _ = attack.fit_resample(X, y)
    np.testing.assert_allclose(X_adv, X_adv_dense, rtol=1e-8, atol=1e-10)
