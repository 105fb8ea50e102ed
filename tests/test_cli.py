"""The command line: ``run``, ``sweep`` and ``reproduce``."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sklearn_pertlearn.__main__ import build_parser, main
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.experiments import COLUMNS, PRESETS, SWEEPABLE, ExperimentConfig
from sklearn_pertlearn.experiments import run_experiment as library_run

# Settings small enough for a tenth of a second per run.
TINY = ["--set", "n_samples=100", "--set", "n_features=20", "--set", "n_test=100",
        "--set", "epochs=30", "--set", "epochs_g=30"]


@pytest.fixture
def pyplot():
    """The commands that draw need matplotlib; draw to files only."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _outcome(result):
    return {key: value for key, value in result.items() if key != "seconds"}


def test_run_prints_the_numbers_of_the_library(capsys):
    main(["run", "--n-samples", "100", "--n-features", "20", "--epochs", "20",
          "--width", "30", "--seed", "3", "--json"])
    result = json.loads(capsys.readouterr().out)
    expected = library_run(ExperimentConfig(
        n_samples=100, n_features=20, epochs=20, hidden_dim=30, seed=3
    ))
    # CPU fits are bit-for-bit repeatable: every option reached the run.
    assert _outcome(result) == _outcome(expected)
    assert result["n_test"] == 1000 and result["epochs_g"] is None


@pytest.mark.filterwarnings("ignore:.*no bfloat16 instructions:UserWarning")
def test_run_and_sweep_train_in_the_precision_asked(pyplot, tmp_path, capsys):
    main(["run", "--n-samples", "100", "--n-features", "20", "--epochs", "20",
          "--precision", "bf16-mixed", "--json"])
    result = json.loads(capsys.readouterr().out)
    expected = library_run(ExperimentConfig(
        n_samples=100, n_features=20, epochs=20, precision="bf16-mixed"
    ))
    assert result["precision"] == "bf16-mixed"
    assert _outcome(result) == _outcome(expected)
    output = tmp_path / "width.csv"
    main(["sweep", "sG-a", "--param", "hidden_dim=5,50", "--learning-rates", "1.0",
          *TINY, "--precision", "bf16-mixed", "--output", str(output)])
    assert [row["precision"] for row in _rows(output)] == ["bf16-mixed"] * 2


def test_real_data_reports_the_sizes_it_used_and_refuses_others(monkeypatch, capsys):
    # A stand-in for MNIST that records where it was asked to look.
    asked = []

    def fake_mnist(*, subset, data_home=None):
        asked.append((subset, data_home))
        n = 60 if subset == "train" else 24
        return make_shifted_gaussian(n, 12, random_state=len(asked))

    monkeypatch.setattr("sklearn_pertlearn.experiments._run.load_mnist_pair", fake_mnist)
    main(["run", "--dataset", "mnist", "--data-home", "/data/cache", "--epochs", "5",
          "--json"])
    result = json.loads(capsys.readouterr().out)
    assert asked == [("train", "/data/cache"), ("test", "/data/cache")]
    assert (result["n_samples"], result["n_features"], result["n_test"]) == (60, 12, 24)
    assert result["data_home"] == "/data/cache"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", "mnist", "--n-samples", "100"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "n_samples=100 with dataset='mnist'" in err and "synthetic data only" in err


def test_every_option_says_what_it_does_and_its_default():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"run", "sweep", "reproduce"}
    for name, command in commands.items():
        text = command.format_help()
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
            if action.option_strings and action.default not in (None, [], "==SUPPRESS=="):
                assert f"(default: {action.default})" in " ".join(text.split()), (
                    name, action.option_strings
                )
    sweep = " ".join(commands["sweep"].format_help().split())
    assert f"NAME is one of {', '.join(SWEEPABLE)}" in sweep
    assert "real data sets keep their size" in sweep
    assert "--data-home" in sweep and "--data-home" in commands["reproduce"].format_help()


_IMPORTS_OF_THE_COMMAND = """
import runpy, sys
sys.argv = ["pertlearn", *sys.argv[1:]]
try:
    runpy.run_module("sklearn_pertlearn", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = {"torch", "skorch", "matplotlib", "sklearn", "sklearn.model_selection",
         "sklearn.datasets"}
print(code, sorted(heavy & set(sys.modules)))
"""


@pytest.mark.parametrize(
    "args, code, imported",
    [
        (["--help"], 0, []),
        (["run", "--help"], 0, []),
        (["run", "--width", "0"], 2, []),
        (["run", "--loss", "hinge"], 2, []),
        # Naming a preset builds the catalogue, whose configurations
        # scikit-learn's parameter validation checks.
        (["sweep", "--help"], 0, ["sklearn"]),
        (["reproduce", "--help"], 0, ["sklearn"]),
        (["sweep", "sG-a", "--param", "width=1"], 2, ["sklearn"]),
        (["sweep", "sG-a", "--param", "lr_f=1,2"], 2, ["sklearn"]),
    ],
)
def test_help_and_argument_errors_import_no_torch(args, code, imported):
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS_OF_THE_COMMAND, *args],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.splitlines()[-1] == f"{code} {imported}"


def test_without_matplotlib_a_sweep_writes_its_results_and_draws_them_later(
    pyplot, monkeypatch, tmp_path, capsys
):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    output, figure = tmp_path / "width.csv", tmp_path / "width.png"
    args = ["sweep", "sG-a", "--param", "hidden_dim=5,10", "--learning-rates", "1.0",
            *TINY, "--output", str(output)]
    main(args)
    out, err = capsys.readouterr()
    assert 'pip install -e ".[plot]"' in err and "run this command again" in err
    assert f"2 runs in {output}; no figure (no matplotlib)" in out
    assert len(_rows(output)) == 2 and not figure.exists()
    # Once matplotlib is there, the same command draws the figure from the
    # file and runs nothing.
    monkeypatch.undo()
    before = output.read_bytes()
    main(args)
    assert output.read_bytes() == before and figure.stat().st_size > 0


def test_without_matplotlib_a_decision_map_stops_before_its_run(monkeypatch, tmp_path, capsys):
    # A map is not in the results file: it could not be drawn later.
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    output = tmp_path / "never.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "sG-a-map", "--quick", "--output", str(output)])
    assert exit_info.value.code == 2
    assert 'pip install -e ".[plot]"' in capsys.readouterr().err
    assert not output.exists()


def test_quick_says_which_values_it_replaced(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    main(["sweep", "sG-a", "--quick", "--param", "hidden_dim=5,10,100,1000",
          "--learning-rates", "1.0", *TINY, "--output", str(tmp_path / "quick.csv")])
    err = capsys.readouterr().err
    assert (
        "--quick runs hidden_dim=5,10,50 instead of 5,10,100,1000; epochs=20 instead "
        "of 30; epochs_g=20 instead of 30 (at most three points"
    ) in err
    assert sorted(int(row["hidden_dim"]) for row in _rows(tmp_path / "quick.csv")) == [5, 10, 50]


@pytest.mark.parametrize(
    "args, bad",
    [
        (["--output", "{tmp}/missing/x.csv"], "The folder '{tmp}/missing' of the results file"),
        (["--figure", "{tmp}/missing/x.png"], "The folder '{tmp}/missing' of the figure"),
        (["--figure", "{tmp}/x.figure"], "matplotlib writes .* not 'figure'"),
    ],
)
def test_files_that_cannot_be_written_stop_a_sweep_before_any_run(
    pyplot, args, bad, monkeypatch, tmp_path, capsys
):
    def no_run(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr("sklearn_pertlearn.experiments._execution._run_one", no_run)
    args = [arg.format(tmp=tmp_path) for arg in args]
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "sG-a", "--param", "hidden_dim=5", *TINY, "--output",
              str(tmp_path / "x.csv"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(bad.format(tmp=tmp_path), err), err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["sweep", "reproduce"])
def test_device_and_set_reach_every_run(command, monkeypatch, capsys):
    from sklearn_pertlearn import experiments

    seen = []

    def run_sweeps(preset, sweeps, *args, **kwargs):
        seen.extend(preset.runs(sweeps))
        raise ValueError("stop")

    monkeypatch.setattr(experiments, "run_sweeps", run_sweeps, raising=False)
    monkeypatch.setattr("sklearn_pertlearn.experiments._summaries.run_sweeps", run_sweeps)
    target = ["sweep", "sG-a", "--param", "hidden_dim=5"] if command == "sweep" else [
        "reproduce", "sG-a", "--quick"
    ]
    with pytest.raises(SystemExit):
        main([*target, "--device", "cuda:1", "--set", "seed=3"])
    assert "error: stop" in capsys.readouterr().err
    assert seen and {(run.device, run.seed) for run in seen} == {("cuda:1", 3)}
    with pytest.raises(SystemExit) as exit_info:
        main([*target, "--device", "cuda:1", "--set", "device=cpu"])
    assert exit_info.value.code == 2
    assert "--device cuda:1 and --set device=cpu disagree" in capsys.readouterr().err


def test_a_run_out_of_memory_is_one_line(monkeypatch, capsys):
    torch = pytest.importorskip("torch")

    def run_experiment(config, memory=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB")

    monkeypatch.setattr("sklearn_pertlearn.experiments._execution.run_experiment",
                        run_experiment)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--width", "100000", "--device", "cuda"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit in the memory of device 'cuda'" in err
    assert "lower hidden_dim" in err


def test_sweep_writes_results_and_figure_and_skips_finished_runs(pyplot, tmp_path, capsys):
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


def test_sweep_quick_uses_default_paths_and_measures_the_cosine(
    pyplot, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    main(["sweep", "sG-a", "--quick", "--param", "n_features=10,20", "--cosine",
          "--learning-rates", "1.0"])
    out = capsys.readouterr().out
    assert "cosine" in out.splitlines()[1]
    rows = _rows(tmp_path / "sG-a-n_features-quick.csv")
    assert sorted(row["n_features"] for row in rows) == ["10", "20"]
    # Width 50 at d = 10 and 20 gave 0.988 to 0.998 over seeds 0-2.
    assert all(float(row["cosine_similarity"]) > 0.95 for row in rows)
    assert (tmp_path / "sG-a-n_features-quick.png").exists()


@pytest.mark.parametrize("figure", ["sG-a-cosine", "sG-a-map"])
def test_reproduce_quick_draws_the_figure(pyplot, figure, tmp_path, capsys):
    output = tmp_path / f"{figure}.csv"
    main(["reproduce", figure, "--quick", "--output", str(output)])
    out = capsys.readouterr().out
    assert f"figure in {tmp_path / figure}.png" in out
    assert (tmp_path / f"{figure}.png").stat().st_size > 0
    preset = PRESETS["sG-a"].quick()
    if figure.endswith("map"):
        assert [row["hidden_dim"] for row in _rows(output)] == [
            str(preset.map_config.hidden_dim)
        ]
    else:
        # Three points of d at four pairs, three of the epochs of f at two.
        assert len(_rows(output)) == len(preset.runs(preset.cosine_sweeps)) == 18


def test_a_one_panel_figure_keeps_its_legend_inside(pyplot):
    from sklearn_pertlearn.plotting import plot_sweeps

    summary = {
        "param_values": [1, 10, 100], "label": "width m", "title": "width m",
        "f_train_accuracy": [0.9, 1.0, 1.0], "g_train_accuracy": [0.5, 0.9, 1.0],
        "agreement": [0.5, 0.95, 1.0],
    }
    fig = plot_sweeps([summary], title="sG-a-hidden_dim")
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert legend.x0 >= 0 and legend.x1 <= fig.bbox.x1 and legend.y0 >= 0
    pyplot.close(fig)


@pytest.mark.parametrize(
    "args, message",
    [
        (["sweep", "sG-z", "--param", "hidden_dim=1"], "invalid choice: 'sG-z'"),
        (["sweep", "sG-a"], "the following arguments are required: --param"),
        (["sweep", "sG-a", "--param", "hidden_dim"], "expected NAME=V1,V2"),
        (["sweep", "sG-a", "--param", "width=1,2"], "Unknown setting 'width'"),
        (["sweep", "sG-a", "--param", "hidden_dim=1,x"], "type int, got 'x'"),
        (["sweep", "sG-a", "--param", "lr_f=0.1,1"], "Cannot sweep 'lr_f'"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--set", "lr_g=1"], "Cannot set 'lr_g'"),
        (["sweep", "sG-a", "--param", "hidden_dim=0,1"], "'hidden_dim' parameter.*Got 0"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--set", "epsilon=-1"],
         "'epsilon' parameter.*Got -1"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--n-jobs", "0"], "must not be 0"),
        (["sweep", "sG-a", "--param", "hidden_dim=1", "--learning-rates", "1,-1"],
         "must be positive"),
        (["reproduce", "sG-c"], "invalid choice: 'sG-c'"),
        (["run", "--width", "0"], "must be at least 1"),
        (["run", "--precision", "16"], "invalid choice: '16'"),
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


def test_float16_on_a_cpu_is_one_line(capsys):
    # The CPU is the command line's default device, on a GPU machine too.
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--n-samples", "50", "--n-features", "5", "--epochs", "1",
              "--precision", "16-mixed", "--device", "cpu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a CUDA device" in err and "bf16-mixed" in err


def test_an_unwritable_output_is_one_line(pyplot, tmp_path, capsys):
    missing = tmp_path / "missing" / "map.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "sG-a-map", "--quick", "--output", str(missing)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pertlearn: error:") and "missing" in err
    assert err.count("\n") == 1


def test_a_sweep_killed_with_sigkill_resumes_without_losing_a_row(pyplot, tmp_path):
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


def _children(pid):
    """Live child processes of ``pid``, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while it was listed
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            children.append(int(stat.parent.name))
    return children


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_sweep_killed_with_sigkill_leaves_nothing_behind(pyplot, tmp_path, monkeypatch):
    output = tmp_path / "killed.csv"
    temp = tmp_path / "temp"
    temp.mkdir()
    widths = ",".join(str(m) for m in range(10, 410, 10))
    process = subprocess.Popen(
        [sys.executable, "-m", "sklearn_pertlearn", "sweep", "sG-a",
         "--param", f"hidden_dim={widths}", *TINY, "--n-jobs", "2",
         "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(temp)},
    )
    deadline = time.monotonic() + 120
    children = []
    try:
        # Mid-sweep: both workers started and a run finished.
        while not (output.exists() and output.read_text().count("\n") > 1):
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no rows were written in time"
            time.sleep(0.05)
        children = _children(process.pid)
        # Two loky workers and the resource trackers beside them.
        assert len(children) >= 2, children
        process.kill()
        process.wait(timeout=30)
        # The workers notice within a fifth of a second, then the helpers lose
        # their last client. Measured: all four gone 0.55 to 0.94 s after the
        # kill on two cores at a load of 9.7.
        end = time.monotonic() + 15
        while any(map(_alive, children)) and time.monotonic() < end:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
        # Its locks died with it: its temporary cache of f goes with the next
        # sweep, and the next sweep may write the results file.
        caches = list(temp.glob("pertlearn-f-cache-*"))
        assert len(caches) == 1
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        main(["sweep", "sG-a", "--param", "hidden_dim=10", *TINY, "--output", str(output)])
        assert list(temp.iterdir()) == []
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
