"""The command line: ``run``, ``sweep`` and ``reproduce``."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import matplotlib
import pytest

from sklearn_pertlearn.__main__ import main
from sklearn_pertlearn.experiments import COLUMNS

matplotlib.use("Agg")

# Settings small enough for a tenth of a second per run.
TINY = ["--set", "n_samples=100", "--set", "n_features=20", "--set", "n_test=100",
        "--set", "epochs=30", "--set", "epochs_g=30"]


def _rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_run_still_prints_the_papers_numbers(capsys):
    main(["run", "--n-samples", "100", "--n-features", "20", "--epochs", "20", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["n_samples"] == 100 and result["epochs_g"] is None
    assert 0.0 <= result["agreement"] <= 1.0


def test_sweep_writes_results_and_figure_and_skips_finished_runs(tmp_path, capsys):
    output = tmp_path / "width.csv"
    args = ["sweep", "sG-a", "--param", "hidden_dim=5,50", "--learning-rates", "1.0",
            *TINY, "--output", str(output)]
    main(args)
    out = capsys.readouterr().out
    assert "width m (n_samples=100; n_features=20" in out
    assert f"2 runs in {output}; figure in {tmp_path / 'width.png'}" in out
    rows = _rows(output)
    # Rows come in the order runs finish (the longest start first).
    assert sorted(row["hidden_dim"] for row in rows) == ["5", "50"]
    assert set(rows[0]) == set(COLUMNS)
    assert (tmp_path / "width.png").stat().st_size > 0
    before = output.read_text()
    main(args)
    assert output.read_text() == before


def test_sweep_quick_uses_default_paths_and_measures_the_cosine(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["sweep", "sG-a", "--quick", "--param", "n_features=10,20", "--cosine",
          "--learning-rates", "1.0"])
    out = capsys.readouterr().out
    assert "cosine" in out.splitlines()[1]
    rows = _rows(tmp_path / "sG-a-n_features-quick.csv")
    assert all(0.0 < float(row["cosine_similarity"]) <= 1.0 for row in rows)
    assert (tmp_path / "sG-a-n_features-quick.png").exists()


@pytest.mark.parametrize("figure", ["sG-a-cosine", "sG-a-map"])
def test_reproduce_quick_draws_the_figure(figure, tmp_path, capsys):
    output = tmp_path / f"{figure}.csv"
    main(["reproduce", figure, "--quick", "--output", str(output)])
    out = capsys.readouterr().out
    assert f"figure in {tmp_path / figure}.png" in out
    assert (tmp_path / f"{figure}.png").stat().st_size > 0
    assert len(_rows(output)) >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["sweep", "sG-z", "--param", "hidden_dim=1"], "invalid choice: 'sG-z'"),
        (["sweep", "sG-a"], "the following arguments are required: --param"),
        (["sweep", "sG-a", "--param", "hidden_dim"], "expected NAME=V1,V2"),
        (["sweep", "sG-a", "--param", "width=1,2"], "Unknown setting 'width'"),
        (["sweep", "sG-a", "--param", "hidden_dim=1,x"], "type int, got 'x'"),
        (["sweep", "sG-a", "--param", "lr_f=0.1,1"], "Cannot sweep or set 'lr_f'"),
        (["sweep", "sG-a", "--param", "hidden_dim=0,1"], "'hidden_dim' parameter.*Got 0"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--set", "epsilon=-1"],
         "'epsilon' parameter.*Got -1"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--n-jobs", "0"], "must not be 0"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--learning-rates", "1,-1"],
         "must be positive"),
        (["reproduce", "sG-c"], "invalid choice: 'sG-c'"),
        (["run", "--width", "0"], "must be at least 1"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    # Subcommands' own parser errors name the subcommand.
    assert re.match(r"pertlearn( \w+)?: error: ", err) and err.count("\n") == 1, err
    assert re.search(message, err), err


def test_an_unwritable_output_is_one_line(tmp_path, capsys):
    missing = tmp_path / "missing" / "map.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "sG-a-map", "--quick", "--output", str(missing)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pertlearn: error:") and "missing" in err
    assert err.count("\n") == 1


def test_a_sweep_killed_with_sigkill_resumes_without_losing_a_row(tmp_path):
    output = tmp_path / "killed.csv"
    widths = ",".join(str(m) for m in range(10, 160, 10))
    args = ["sweep", "sG-a", "--param", f"hidden_dim={widths}", *TINY,
            "--output", str(output)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sklearn_pertlearn", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    try:
        # Kill it once five runs are on disk: mid-sweep, mid-run.
        while not (output.exists() and output.read_text().count("\n") > 5):
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no rows were written in time"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    written = output.read_text()
    finished = written[: written.rfind("\n") + 1]

    main(args)
    final = output.read_text()
    # Every row written before the kill is still there, unchanged, and no run
    # is in the file twice: the rerun did only the rest.
    assert final.startswith(finished)
    rows = _rows(output)
    keys = {(row["hidden_dim"], row["lr_f"], row["lr_g"]) for row in rows}
    assert len(rows) == len(keys) == 15 * 4
