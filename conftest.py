"""pytest configuration shared by the tests and the doctests.

The suite trains many small networks. With more than one OpenMP thread, every
small matrix product waits at a barrier for the other thread, and whenever
anything else runs on a two-core machine that thread is descheduled: a
1000 x 100 x 100 product was measured at 15 ms with two threads against
0.6 ms with one. One thread per process keeps the suite fast and its timing
steady; subprocesses and joblib workers inherit the setting. Set
OMP_NUM_THREADS yourself to override it.

Doctests that import an optional package (matplotlib, imbalanced-learn, ...)
are skipped where it is not installed, so that the suite runs with the core
requirements and pytest alone.
"""

import importlib.util
import os
import re

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import pytest  # noqa: E402
import torch  # noqa: E402  (after the variables above, which it reads at import)
from _pytest.doctest import DoctestItem  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def _missing_import(doctest):
    """The first package that ``doctest`` imports and this environment lacks."""
    for example in doctest.examples:
        match = re.match(r"(?:import|from)\s+(\w+)", example.source)
        if match and importlib.util.find_spec(match.group(1)) is None:
            return match.group(1)
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, DoctestItem):
            package = _missing_import(item.dtest)
            if package is not None:
                item.add_marker(pytest.mark.skip(reason=f"needs the optional {package}"))
