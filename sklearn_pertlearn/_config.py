"""Global configuration of sklearn-pertlearn, in the style of ``sklearn.set_config``."""

import numbers
from contextlib import contextmanager

_global_config = {"n_threads": "auto"}


def _check_n_threads(n_threads, caller):
    if n_threads == "auto":
        return n_threads
    if (
        isinstance(n_threads, numbers.Integral)
        and not isinstance(n_threads, bool)
        and n_threads >= 1
    ):
        return int(n_threads)
    raise ValueError(
        f"{caller}: n_threads must be 'auto' or an int >= 1; got {n_threads!r}."
    )


def get_config():
    """Return the current configuration of sklearn-pertlearn.

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    See Also
    --------
    config_context : Change the configuration within a ``with`` block.
    set_config : Change the configuration.

    Examples
    --------
    >>> import sklearn_pertlearn
    >>> sklearn_pertlearn.get_config()
    {'n_threads': 'auto'}
    """
    return dict(_global_config)


def set_config(n_threads=None):
    """Change the configuration of sklearn-pertlearn for the whole process.

    Parameters
    ----------
    n_threads : int or "auto", default=None
        Number of torch intra-op threads that fits, predictions, attacks and
        theory functions run with. ``"auto"`` chooses by the size of the work:
        one thread for small matrix products, all of torch's threads for large
        ones, unless ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``) is set, which
        then decides. An int forces that many threads, over the environment
        too. None leaves the setting unchanged. See :ref:`threads`.

    See Also
    --------
    config_context : Change the configuration within a ``with`` block.
    get_config : Read the configuration.

    Examples
    --------
    >>> import sklearn_pertlearn
    >>> sklearn_pertlearn.set_config(n_threads=1)
    >>> sklearn_pertlearn.get_config()["n_threads"]
    1
    >>> sklearn_pertlearn.set_config(n_threads="auto")
    """
    if n_threads is not None:
        _global_config["n_threads"] = _check_n_threads(n_threads, "set_config")


@contextmanager
def config_context(*, n_threads=None):
    """Change the configuration of sklearn-pertlearn within a ``with`` block.

    The previous configuration comes back when the block ends, even by an
    exception. The setting is global to the process (torch's thread count is),
    and joblib's worker processes do not inherit it: in those, joblib sets
    ``OMP_NUM_THREADS``, which the ``"auto"`` setting follows.

    Parameters
    ----------
    n_threads : int or "auto", default=None
        As in :func:`set_config`; None leaves the setting unchanged.

    Yields
    ------
    None

    See Also
    --------
    set_config : Change the configuration for the whole process.
    get_config : Read the configuration.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn_pertlearn
    >>> from sklearn_pertlearn import WideTwoLayerNetClassifier
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.9], [0.9, 0.0]])
    >>> with sklearn_pertlearn.config_context(n_threads=1):
    ...     clf = WideTwoLayerNetClassifier(max_epochs=5, random_state=0).fit(X, [0, 1, 0, 1])
    >>> sklearn_pertlearn.get_config()["n_threads"]
    'auto'
    """
    previous = get_config()
    if n_threads is not None:
        _global_config["n_threads"] = _check_n_threads(n_threads, "config_context")
    try:
        yield
    finally:
        _global_config.update(previous)
