"""Results files and temporary caches that hold: refused as they are unless
they are ours, one writer at a time, nothing left behind by a killed sweep."""

import csv
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import torch

from sklearn_pertlearn.__main__ import main
from sklearn_pertlearn.experiments import (
    COLUMNS,
    ExperimentConfig,
    _execution,
    run_experiments,
)
from sklearn_pertlearn.experiments._files import _Lock

# Small enough for a tenth of a second per run, large enough to learn.
TINY = ExperimentConfig(n_samples=100, n_features=20, n_test=100, epochs=20)

# Another process that holds the lock file argv[1] until it is killed.
_HOLD = """
import fcntl, os, sys, time
file = open(sys.argv[1], "w")
fcntl.flock(file, fcntl.LOCK_EX)
file.write(str(os.getpid()))
file.flush()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """The bytes of a results file of this version with two rows."""
    path = tmp_path_factory.mktemp("ours") / "results.csv"
    run_experiments([TINY, replace(TINY, seed=1)], path)
    return path.read_bytes()


def _rows(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def _hold(lock_path):
    pytest.importorskip("fcntl", reason="the lock holder uses flock (POSIX)")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.parametrize(
    "content, why",
    [
        # A partial last row after a header that is not ours: the old
        # repair deleted "bob,2" before it looked at the header.
        (b"name,score\nalice,1\nbob,2", r"its columns are \['name', 'score'\]"),
        # One line without its end that does not begin our header: the old
        # repair emptied the file.
        (b"name,score", r"it begins with 'name,score', not with its columns"),
    ],
)
def test_a_foreign_file_is_refused_byte_for_byte(tmp_path, content, why):
    output = tmp_path / "notes.csv"
    output.write_bytes(content)
    with pytest.raises(ValueError, match=(
        rf"^'{output}' is not a results file of this version: {why}.* It was left "
        "as it is; choose another output path.$"
    )):
        run_experiments([TINY], output)
    assert output.read_bytes() == content
    assert sorted(tmp_path.iterdir()) == [output]


def test_a_last_line_that_no_row_begins_is_refused_byte_for_byte(tmp_path, ours):
    output = tmp_path / "results.csv"
    content = ours + b"," * len(COLUMNS)
    output.write_bytes(content)
    with pytest.raises(ValueError, match="its last line, ',,,.*, is not a result row"):
        run_experiments([TINY], output)
    assert output.read_bytes() == content


def test_an_incomplete_header_of_ours_is_started_afresh(tmp_path, ours):
    output = tmp_path / "results.csv"
    output.write_bytes(ours[:50])
    with pytest.warns(UserWarning, match="ends with an incomplete header"):
        run_experiments([TINY], output)
    rows = _rows(output)
    assert tuple(rows[0]) == COLUMNS and len(rows) == 2


def test_a_file_not_in_utf8_is_refused_by_its_name(tmp_path, ours):
    output = tmp_path / "results.csv"
    content = ours[:-30] + b"\xff" + ours[-29:]
    output.write_bytes(content)
    with pytest.raises(ValueError, match=(
        rf"'{output}' is not a results file of this version: line 3 is not UTF-8 "
        rf"text \(byte 0xff at position {len(ours) - 30}\)"
    )):
        run_experiments([TINY], output)
    assert output.read_bytes() == content


def test_two_sweeps_at_once_write_every_run_once(tmp_path):
    output = tmp_path / "results.csv"
    configs = [replace(TINY, seed=seed) for seed in range(4)]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run_experiments, configs, output) for _ in range(2)]
    errors = [future.exception() for future in futures]
    # One writes every run; the other is refused, or finds every run done.
    assert all(error is None or isinstance(error, BlockingIOError) for error in errors)
    assert errors.count(None) >= 1
    rows = _rows(output)[1:]
    assert len(rows) == len({tuple(row) for row in rows}) == len(configs)
    assert sorted(tmp_path.iterdir()) == [output]


def test_a_file_another_process_writes_is_refused_until_it_dies(tmp_path, capsys):
    output = tmp_path / "results.csv"
    holder = _hold(tmp_path / "results.csv.lock")
    try:
        with pytest.raises(BlockingIOError, match=(
            rf"'{output}' is being written by another process \(process "
            rf"{holder.pid}\).*Wait for it to end"
        )):
            run_experiments([TINY], output)
        with pytest.raises(SystemExit) as exit_info:
            main(["sweep", "sG-a", "--param", "hidden_dim=5", "--output", str(output)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "being written by another process" in err
        assert not output.exists()
    finally:
        # SIGKILL: the system releases the lock with the process.
        holder.kill()
        holder.wait()
    assert len(run_experiments([TINY], output)) == 1
    assert sorted(tmp_path.iterdir()) == [output]


def test_a_killed_sweeps_cache_is_removed_by_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # A killed sweep's cache: its lock file is there, and free.
    stale = tmp_path / "pertlearn-f-cache-stale"
    (stale / "joblib").mkdir(parents=True)
    (stale / ".lock").write_text("4194304")
    # A running sweep's, and one being made (no lock file yet): both kept.
    live, new = tmp_path / "pertlearn-f-cache-live", tmp_path / "pertlearn-f-cache-new"
    live.mkdir()
    new.mkdir()
    lock = _Lock(live / ".lock")
    assert lock.acquire()
    try:
        run_experiments([TINY, replace(TINY, lr_g=0.1)])
        # The sweep's own cache is gone too.
        assert sorted(tmp_path.iterdir()) == [live, new]
    finally:
        lock.release()


def test_a_run_out_of_memory_is_reported_like_a_failed_run(tmp_path, monkeypatch):
    def run_experiment(config, memory=None):
        if config.hidden_dim == 60:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB")
        if config.hidden_dim == 50:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        if config.hidden_dim == 70:
            raise RuntimeError("a bug, not memory")
        return original(config, memory=memory)

    original = _execution.run_experiment
    monkeypatch.setattr(_execution, "run_experiment", run_experiment)
    configs = [replace(TINY, hidden_dim=m) for m in (50, 60, 10)]
    # The widest run goes first.
    with pytest.warns(UserWarning, match=(
        r"2 of 3 runs failed and are left out; the first \(.*hidden_dim=60.*\): The "
        r"run does not fit in the memory of device 'cpu' \(width 60, N=100, d=20\); "
        r"lower hidden_dim .*n_jobs"
    )):
        results = run_experiments(configs, tmp_path / "results.csv")
    assert [result["hidden_dim"] for result in results] == [10]
    # Other errors are bugs, and stop the sweep.
    with pytest.raises(RuntimeError, match="a bug"):
        run_experiments([replace(TINY, hidden_dim=70)])
