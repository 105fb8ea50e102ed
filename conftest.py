"""pytest configuration shared by the tests and the doctests.

The suite trains many small networks. With more than one OpenMP thread, every
small matrix product waits at a barrier for the other thread, and whenever
anything else runs on a two-core machine that thread is descheduled: a
1000 x 100 x 100 product was measured at 15 ms with two threads against
0.6 ms with one. One thread per process keeps the suite fast and its timing
steady; subprocesses and joblib workers inherit the setting. Set
OMP_NUM_THREADS yourself to override it.
"""

import importlib.util
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import pytest  # noqa: E402
import torch  # noqa: E402  (after the variables above, which it reads at import)

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))



# Doctests of modules whose examples need an optional dependency, and that
# dependency: without it they are skipped, so that the suite passes with the
# core requirements alone.
_DOCTEST_REQUIRES = {"sklearn_pertlearn.plotting": "matplotlib"}


def pytest_collection_modifyitems(config, items):
    missing = {
        module: package
        for module, package in _DOCTEST_REQUIRES.items()
        if importlib.util.find_spec(package) is None
    }
    for item in items:
        # A doctest item is named after the object it documents.
        for module, package in missing.items():
            if item.name.startswith(module + "."):
                item.add_marker(pytest.mark.skip(reason=f"the example needs {package}"))
