"""How many torch intra-op threads a call runs with, chosen from the size of its work.

The library's work is matrix products of the data with a first layer (or of
two data sets, for the kernel of the theory). With several threads, every
product ends at a barrier where the threads wait for each other; when another
process holds one of the cores, the thread that shares it is descheduled for a
time slice and the whole product waits. Small products lose most: on a busy
2-core machine the products of a 1000 x 100 x 100 epoch were measured eight
times slower on two threads than on one, while on a quiet machine two threads
were twice as fast at every size from 1e7 multiply-adds up. Large products
lose least under load, because a time slice is short next to the product.
``benchmarks/bench_threads.py`` measures both (``--crossover``).

So calls whose largest product is below :data:`PARALLEL_WORK` multiply-adds
run on one thread, and larger ones on all of torch's threads (by default one
per physical core). Only the size decides, not the load of the moment, so a
call is bit-for-bit repeatable. ``set_config(n_threads=k)`` (or
``config_context``) forces ``k`` threads; otherwise an explicit
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` in the environment decides, as
users of numerical libraries expect, and the policy stays out of the way.

The count is set, after validation, around the computations that every call
goes through (the classifier's epoch loop and prediction, the attack, the
theory's kernels) by :func:`thread_limit` or :func:`limit_threads`, and
restored when they return, as threadpoolctl-aware libraries do.
"""

import functools
import inspect
import os
import threading
from contextlib import contextmanager

import torch
from sklearn.utils.validation import _num_features, _num_samples

from ._config import get_config

#: Multiply-adds of a call's largest product from which it runs on all cores.
#: Measured on 2 cores (``benchmarks/bench_threads.py --crossover``): on a
#: quiet machine two threads ran an epoch's products 1.8 to 2.2 times faster
#: than one at every size from 1e7 up; with other work on the machine they ran
#: 6 to 9 times slower up to 3e7, 2 to 3 times slower at 1e8, 1.4 to 2 times
#: at 3e8 and as fast at 1e9. From 2e8 (about 10 ms on one thread) the gain
#: on a quiet machine outweighs the loss on a busy one.
PARALLEL_WORK = 2e8

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

# torch's thread count is global to the process: scopes entered by several
# Python threads at once (joblib's threading backend) share it, and the count
# outside every scope comes back when the last one ends.
_lock = threading.Lock()
_active_scopes = 0
_outside_threads = None


def n_threads_for(work, available):
    """Return the intra-op threads for a call of ``work`` multiply-adds, or None.

    Parameters
    ----------
    work : float
        Multiply-adds of the call's largest matrix product.
    available : int
        torch's thread count outside the library's calls: the most that
        ``"auto"`` uses.

    Returns
    -------
    n_threads : int or None
        None leaves torch's count as it is (the environment decides).
    """
    n_threads = get_config()["n_threads"]
    if n_threads != "auto":
        return n_threads
    if any(os.environ.get(name) for name in _THREAD_VARIABLES):
        return None
    return available if work >= PARALLEL_WORK else 1


@contextmanager
def thread_limit(work):
    """Run a block with the torch intra-op threads for ``work`` multiply-adds.

    Parameters
    ----------
    work : float
        Multiply-adds of the block's largest matrix product.

    Yields
    ------
    n_threads : int
        The thread count the block runs with.
    """
    global _active_scopes, _outside_threads
    with _lock:
        previous = torch.get_num_threads()
        if _active_scopes == 0:
            _outside_threads = previous
        _active_scopes += 1
        n_threads = n_threads_for(work, _outside_threads)
        if n_threads is not None and n_threads != previous:
            torch.set_num_threads(n_threads)
    try:
        yield torch.get_num_threads()
    finally:
        with _lock:
            _active_scopes -= 1
            restore = _outside_threads if _active_scopes == 0 else previous
            if torch.get_num_threads() != restore:
                torch.set_num_threads(restore)


def limit_threads(work):
    """Decorate a public entry point to run under :func:`thread_limit`.

    Parameters
    ----------
    work : callable
        Called with the entry point's arguments, bound by name with their
        defaults, and returns the multiply-adds of its largest product.
        Where the arguments are invalid and it raises, the call runs on one
        thread and the entry point's own validation words the error.

    Returns
    -------
    decorator : callable
    """

    def decorator(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                # A wrong call: let the function raise its own error.
                return function(*args, **kwargs)
            bound.apply_defaults()
            try:
                size = float(work(**bound.arguments))
            except (AttributeError, TypeError, ValueError):
                size = 0
            with thread_limit(size):
                return function(*args, **kwargs)

        return wrapper

    return decorator


def attack_work(module, X, batch_size, **_):
    """Work of attacking a batch of ``X``: rows times the module's weights."""
    weights = sum(parameter.numel() for parameter in module.parameters())
    return min(_num_samples(X), batch_size) * weights


def kernel_work(X, Z=None, **_):
    """Work of a kernel between ``X`` and ``Z`` (``X`` itself when None)."""
    return _num_samples(X) * _num_samples(X if Z is None else Z) * _num_features(X)


def grid_work(X, resolution, **_):
    """Work of evaluating a kernel of ``X`` on a square grid of ``resolution``."""
    return _num_samples(X) * resolution**2 * _num_features(X)


def lazy_regime_work(self, X, **_):
    """Work of the kernel between the training data of ``self`` and ``X``."""
    return _num_samples(getattr(self, "X_fit_", ())) * _num_samples(X) * _num_features(X)
