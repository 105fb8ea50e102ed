"""Fixtures shared by the tests: small data sets and the paper's network."""

import pytest
import torch
from sklearn.datasets import load_iris, make_blobs
from sklearn.preprocessing import StandardScaler

from sklearn_pertlearn import WideTwoLayerNetClassifier

#: Marks a test that needs a CUDA device.
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def paper_net(**params):
    """The paper's network (identity loss, full-batch SGD, width 100), with ``params`` over it."""
    return WideTwoLayerNetClassifier(
        **{"hidden_dim": 100, "slope": 0.0, "loss": "identity", "solver": "sgd", "lr": 0.1,
           "random_state": 0}
        | params
    )


@pytest.fixture(scope="session")
def binary_data():
    """80 standardized samples of two blobs in 6 dimensions."""
    X, y = make_blobs(n_samples=80, centers=2, n_features=6, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def multiclass_data():
    """Standardized iris: 150 samples, 4 features, 3 classes."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "simulated_cuda(what): runs `what` on a simulated CUDA device "
        "(tests/test_simulated_cuda.py)"
    )
