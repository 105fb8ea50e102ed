"""Tests of the data sets; nothing here touches the network."""

import socket
import time
from urllib.error import URLError

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_pertlearn import datasets
from sklearn_pertlearn.datasets import (
    load_digits_pair,
    load_fashion_mnist_pair,
    load_mnist_pair,
    make_gaussian,
    make_shifted_gaussian,
)


def test_make_gaussian():
    X, y = make_gaussian(4000, 20, random_state=0)
    assert X.shape == (4000, 20) and X.dtype == np.float32
    assert set(np.unique(y)) == {-1, 1}
    assert abs(X.mean()) < 0.01 and abs(X.std() - 1) < 0.01
    # Labels carry no information about x: class means coincide.
    assert np.abs(X[y == 1].mean(0) - X[y == -1].mean(0)).max() < 0.15
    X2, y2 = make_gaussian(4000, 20, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_make_shifted_gaussian():
    X, y = make_shifted_gaussian(2001, 30, shift=0.5, random_state=0)
    assert X.shape == (2001, 30) and X.dtype == np.float32
    assert (y == 1).sum() == 1001 and (y == -1).sum() == 1000
    np.testing.assert_allclose(X[y == 1].mean(0), 0.5, atol=0.1)
    np.testing.assert_allclose(X[y == -1].mean(0), -0.5, atol=0.1)
    assert not np.all(y[:1001] == 1)
    _, y_ordered = make_shifted_gaussian(10, 3, shuffle=False, random_state=0)
    np.testing.assert_array_equal(y_ordered, [1] * 5 + [-1] * 5)


def test_generators_reject_bad_sizes():
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        make_gaussian(0, 3)
    with pytest.raises(ValueError, match="'n_features' parameter"):
        make_shifted_gaussian(10, -1)


def test_load_digits_pair():
    X, y = load_digits_pair(3, 8)
    digits = load_digits()
    keep = np.isin(digits.target, [3, 8])
    assert X.shape == (keep.sum(), 64) and X.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(digits.target[keep] == 3, 1, -1))
    pixels = digits.data / 16
    np.testing.assert_allclose(X, pixels[keep] - pixels.mean(), atol=1e-6)
    with pytest.raises(ValueError, match="two different digits"):
        load_digits_pair(4, 4)
    with pytest.raises(ValueError, match="'b' parameter"):
        load_digits_pair(1, 10)


def _fake_openml(monkeypatch, calls):
    """Replace the download by 70000 tiny 'images' whose pixel is the label."""
    labels = np.tile(np.arange(10), 7000).astype(str).astype(object)
    X = np.repeat(np.arange(70000, dtype=np.float64)[:, None] % 256, 4, axis=1)

    def fetch_openml(**kwargs):
        calls.append(kwargs)
        return X, labels

    monkeypatch.setattr(datasets, "fetch_openml", fetch_openml)
    return X, labels


@pytest.mark.parametrize(
    "loader, data_id, positive, negative, mean_pixel",
    [
        (load_mnist_pair, 554, "1", "2", 0.1307),
        (load_fashion_mnist_pair, 40996, "0", "9", 0.2860),
    ],
)
@pytest.mark.parametrize("subset, rows", [("train", slice(0, 60000)),
                                          ("test", slice(60000, None)),
                                          ("all", slice(None))])
def test_openml_pairs_select_scale_and_centre(
    monkeypatch, tmp_path, loader, data_id, positive, negative, mean_pixel,
    subset, rows,
):
    calls = []
    raw, labels = _fake_openml(monkeypatch, calls)
    X, y = loader(subset=subset, data_home=tmp_path)
    assert calls[0]["data_id"] == data_id and calls[0]["data_home"] == tmp_path
    keep = np.isin(labels[rows], [positive, negative])
    assert X.shape == (keep.sum(), 4) and X.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(labels[rows][keep] == positive, 1, -1))
    np.testing.assert_allclose(X, raw[rows][keep] / 255 - mean_pixel, atol=1e-6)


@pytest.mark.parametrize("loader", [load_mnist_pair, load_fashion_mnist_pair])
def test_offline_without_cache_is_a_clear_error_not_a_hang(
    monkeypatch, tmp_path, loader
):
    timeouts = []

    def unreachable(*args, **kwargs):
        timeouts.append(socket.getdefaulttimeout())
        raise URLError("no route to host")

    monkeypatch.setattr("sklearn.datasets._openml.urlopen", unreachable)
    monkeypatch.setattr("sklearn.datasets._openml.time.sleep", lambda seconds: None)
    before = socket.getdefaulttimeout()
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="network error"):
        with pytest.raises(ConnectionError, match="no copy is cached in.*--data-home"):
            loader(data_home=tmp_path, timeout=3.0)
    assert time.perf_counter() - start < 5
    # Every network call ran under the timeout, which is restored afterwards.
    assert timeouts and set(timeouts) == {3.0}
    assert socket.getdefaulttimeout() == before


def test_loader_rejects_bad_subset():
    with pytest.raises(ValueError, match="'subset' parameter"):
        load_mnist_pair(subset="validation")
