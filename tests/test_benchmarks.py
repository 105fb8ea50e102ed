"""Every benchmark script runs with ``--quick`` and prints its ratios, so none rots."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))
# A header that names a ratio column: "library / this", "default/1", "speed-up".
RATIO_HEADER = re.compile(r"\w / \w|\w/\d|speed-up")
NUMBER = re.compile(r"\d\.\d")


def ratio_rows(output):
    """The rows, up to the next blank line, of every table with a ratio column."""
    rows, in_table = [], False
    for line in output.splitlines():
        if RATIO_HEADER.search(line):
            in_table = True
        elif not line.strip():
            in_table = False
        elif in_table and NUMBER.search(line):
            rows.append(line)
    return rows


def test_every_benchmark_is_collected():
    assert len(SCRIPTS) >= 7, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_quick_run_prints_ratios(script):
    # The checkout, not an installed copy; one thread, as on a busy machine.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, str(script), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert ratio_rows(completed.stdout), completed.stdout
