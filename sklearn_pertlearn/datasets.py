"""The paper's data sets: synthetic Gaussians and pairs of image classes.

Every function returns ``(X, y)`` with float32 ``X`` of shape
``(n_samples, n_features)`` and integer labels ``y`` in {-1, +1}, the paper's
convention; the classifiers of this package accept them as they are.
"""

import importlib.util
import os
import socket
from numbers import Integral, Real
from urllib.error import URLError

import numpy as np
from sklearn.datasets import fetch_openml, load_digits
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

# OpenML ids of the 70000-image sets; the first 60000 rows are the usual
# training split, the last 10000 the test split.
_MNIST_ID = 554
_FASHION_MNIST_ID = 40996
_N_TRAIN_IMAGES = 60000
# Mean pixel of each training set after scaling to [0, 1], as the paper
# (and torchvision's usual normalisation) subtracts it.
_MNIST_MEAN_PIXEL = 0.1307
_FASHION_MNIST_MEAN_PIXEL = 0.2860


def _pair(X, labels, positive, negative):
    """Keep two classes: ``positive`` becomes +1 and ``negative`` -1."""
    keep = (labels == positive) | (labels == negative)
    y = np.where(labels[keep] == positive, 1, -1)
    return X[keep], y


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_gaussian(n_samples=1000, n_features=100, *, random_state=None):
    """Standard Gaussian inputs with random labels: pure memorisation.

    ``x ~ N(0, I_d)`` and ``y`` uniform in {-1, +1}, independent of ``x``
    (the paper's "Gaussian" data set).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_features : int, default=100
        Input dimension d.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
    y : ndarray of shape (n_samples,), values in {-1, +1}

    Examples
    --------
    >>> from sklearn_pertlearn.datasets import make_gaussian
    >>> X, y = make_gaussian(4, 3, random_state=0)
    >>> X.shape, X.dtype
    ((4, 3), dtype('float32'))
    >>> y
    array([-1,  1,  1,  1])
    """
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features)).astype(np.float32)
    y = 2 * rng.randint(2, size=n_samples) - 1
    return X, y


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "shift": [Interval(Real, None, None, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_shifted_gaussian(
    n_samples=1000, n_features=100, *, shift=0.3, shuffle=True, random_state=None
):
    """Two Gaussian classes with opposite means ``+shift * 1`` and ``-shift * 1``.

    Half of the samples (the larger half when ``n_samples`` is odd) come from
    ``N(+shift * 1, I_d)`` with label +1, the rest from ``N(-shift * 1, I_d)``
    with label -1 (the paper's "mean-shifted Gaussian").

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples, at least 2.
    n_features : int, default=100
        Input dimension d.
    shift : float, default=0.3
        Every coordinate of the mean of class +1.
    shuffle : bool, default=True
        Shuffle the samples; otherwise class +1 comes first, as in the
        authors' code.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
    y : ndarray of shape (n_samples,), values in {-1, +1}

    Examples
    --------
    >>> from sklearn_pertlearn.datasets import make_shifted_gaussian
    >>> X, y = make_shifted_gaussian(1000, 50, random_state=0)
    >>> print(X[y == 1].mean().round(1), X[y == -1].mean().round(1))
    0.3 -0.3
    """
    rng = check_random_state(random_state)
    n_negative = n_samples // 2
    y = np.repeat([1, -1], [n_samples - n_negative, n_negative])
    X = rng.standard_normal((n_samples, n_features)) + shift * y[:, None]
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X.astype(np.float32), y


@validate_params(
    {
        "a": [Interval(Integral, 0, 9, closed="both")],
        "b": [Interval(Integral, 0, 9, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_pair(a=1, b=2):
    """Two digits of scikit-learn's built-in 8 x 8 digits, offline real data.

    Pixels are scaled to [0, 1] and centred by the mean pixel of the whole
    data set, as the paper does for MNIST.

    Parameters
    ----------
    a : int, default=1
        Digit labelled +1.
    b : int, default=2
        Digit labelled -1; different from ``a``.

    Returns
    -------
    X : ndarray of shape (n_samples, 64), dtype float32
    y : ndarray of shape (n_samples,), values in {-1, +1}

    Examples
    --------
    >>> from sklearn_pertlearn.datasets import load_digits_pair
    >>> X, y = load_digits_pair(1, 2)
    >>> X.shape, int((y == 1).sum()), int((y == -1).sum())
    ((359, 64), 182, 177)
    """
    if a == b:
        raise ValueError(f"a and b must be two different digits, got a=b={a}.")
    digits = load_digits()
    pixels = digits.data / 16.0
    X, y = _pair(pixels - pixels.mean(), digits.target, a, b)
    return X.astype(np.float32), y


def _fetch_openml_images(data_id, name, data_home, timeout):
    # fetch_openml has no timeout of its own, and urllib waits forever on a
    # network that swallows packets: bound every socket operation for the
    # length of the download. A cached copy is read without any network.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    parser = "pandas" if importlib.util.find_spec("pandas") else "liac-arff"
    try:
        return fetch_openml(
            data_id=data_id,
            data_home=data_home,
            return_X_y=True,
            as_frame=False,
            parser=parser,
            n_retries=1,
        )
    except (URLError, TimeoutError, ConnectionError) as exc:
        where = "the default data_home" if data_home is None else repr(data_home)
        raise ConnectionError(
            f"Could not download {name} from OpenML ({exc}), and no copy is "
            f"cached in {where}. Connect to the internet once, or pass the "
            "data_home of a scikit-learn data cache that holds it (--data-home "
            "on the command line)."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)


def _load_openml_pair(
    data_id, name, mean_pixel, positive, negative, subset, data_home, timeout
):
    X, labels = _fetch_openml_images(data_id, name, data_home, timeout)
    rows = {
        "train": slice(None, _N_TRAIN_IMAGES),
        "test": slice(_N_TRAIN_IMAGES, None),
        "all": slice(None),
    }[subset]
    X, y = _pair(X[rows], np.asarray(labels[rows]).astype(str), positive, negative)
    return (X / 255.0 - mean_pixel).astype(np.float32), y


_LOADER_CONSTRAINTS = {
    "subset": [StrOptions({"train", "test", "all"})],
    "data_home": [str, os.PathLike, None],
    "timeout": [Interval(Real, 0, None, closed="neither")],
}


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_mnist_pair(*, subset="train", data_home=None, timeout=10.0):
    """MNIST digits 1 (label +1) and 2 (label -1), as in the paper.

    Downloaded once from OpenML through :func:`sklearn.datasets.fetch_openml`
    and cached in ``data_home``. Pixels are scaled to [0, 1] and the mean
    pixel of MNIST's training set (0.1307) is subtracted; images are
    flattened to 784 features. The training subset has 12700 images.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The 60000 training images, the 10000 test images, or both.
    data_home : str or path-like, default=None
        Cache folder; ``None`` is scikit-learn's default (``~/scikit_learn_data``).
    timeout : float, default=10.0
        Seconds that any network operation may take before the download is
        given up.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype float32
    y : ndarray of shape (n_samples,), values in {-1, +1}

    Raises
    ------
    ConnectionError
        When the data is not cached and OpenML cannot be reached.
    """
    return _load_openml_pair(
        _MNIST_ID, "MNIST", _MNIST_MEAN_PIXEL, "1", "2", subset, data_home, timeout
    )


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_fashion_mnist_pair(*, subset="train", data_home=None, timeout=10.0):
    """Fashion-MNIST T-shirts (class 0, label +1) and ankle boots (class 9, -1).

    Downloaded once from OpenML through :func:`sklearn.datasets.fetch_openml`
    and cached in ``data_home``. Pixels are scaled to [0, 1] and the mean
    pixel of Fashion-MNIST's training set (0.2860) is subtracted; images are
    flattened to 784 features. The training subset has 12000 images.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The 60000 training images, the 10000 test images, or both.
    data_home : str or path-like, default=None
        Cache folder; ``None`` is scikit-learn's default (``~/scikit_learn_data``).
    timeout : float, default=10.0
        Seconds that any network operation may take before the download is
        given up.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype float32
    y : ndarray of shape (n_samples,), values in {-1, +1}

    Raises
    ------
    ConnectionError
        When the data is not cached and OpenML cannot be reached.
    """
    return _load_openml_pair(
        _FASHION_MNIST_ID,
        "Fashion-MNIST",
        _FASHION_MNIST_MEAN_PIXEL,
        "0",
        "9",
        subset,
        data_home,
        timeout,
    )
