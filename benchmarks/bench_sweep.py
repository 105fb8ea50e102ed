"""Time a whole figure of the paper: every run of every sweep of a preset.

By default the sG(a) accuracy figure: seven sweeps (input dimension with the
identity and the logistic loss, width, slope, sample count, epochs of g,
epsilon), each point trained for the four learning-rate pairs, 440 distinct
runs of 1000 + 1000 epochs. The figure is run once per ``--n-jobs`` value,
each time into a fresh results file, and the script prints the wall time,
the runs per minute and the speed-up over the first value; then where the
time goes (fit seconds per sweep) and whether the parallel runs gave the
same numbers as the first.

Runs that share f (other lr_g, epsilon or epochs of g) fit it once through
``PerturbationLearningClassifier(memory=...)``; the script prints how many
fits of f that saves. Run::

    python benchmarks/bench_sweep.py                   # sG-a, --n-jobs 1 and 2
    python benchmarks/bench_sweep.py --threads 1       # one torch thread here
    python benchmarks/bench_sweep.py --quick           # a smoke run, --n-jobs 1
    python benchmarks/bench_sweep.py --n-jobs 1 --precision 32-true,bf16-mixed
    python benchmarks/bench_sweep.py --n-jobs 1 --device cuda

With several ``--precision`` values the figure is run once per value and
``--n-jobs`` pair; the speed-up column is then over the first precision too.
"""

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
from _common import add_common_options, force_threads

from sklearn_pertlearn.experiments import FIGURES, PRESETS, reproduce

F_SETTINGS = ("dataset", "n_samples", "n_features", "hidden_dim", "loss", "slope",
              "lr_f", "epochs", "seed", "precision")
MEASURED = ("f_train_accuracy", "g_train_accuracy", "f_test_accuracy",
            "g_test_accuracy", "agreement", "cosine_similarity", "seconds")
NOT_SETTINGS = (*MEASURED, "cosine", "device", "precision")


def _settings(result):
    return tuple(value for key, value in result.items() if key not in NOT_SETTINGS)


def _differing_runs(results, reference):
    """How many runs measured anything but their wall time differently."""
    expected = {_settings(r): r for r in reference}
    return sum(
        any(r[key] != expected[_settings(r)][key] for key in MEASURED[:-1])
        for r in results
    )


def _fit_seconds_by_sweep(preset, sweeps, results):
    """Sum of the runs' fit seconds per sweep; a run shared by sweeps counts once."""
    by_settings = {_settings(result): result for result in results}
    seconds, counted = {}, set()
    for sweep in sweeps:
        seconds[sweep.name] = 0.0
        for point in preset.configs(sweep):
            for key in (_settings(asdict(config)) for config in point):
                if key in by_settings and key not in counted:
                    counted.add(key)
                    seconds[sweep.name] += by_settings[key]["seconds"]
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figure", default="sG-a", choices=[
        name for name, (_, kind) in FIGURES.items() if kind != "map"
    ])
    parser.add_argument("--n-jobs", default=None,
                        help="comma-separated n_jobs values to time (default 1,2; "
                        "1 with --quick, where starting workers would be all it times)")
    add_common_options(parser, threads_help="threads of this process, where --n-jobs 1 "
                       "runs (default: the library's policy by size); workers of "
                       "--n-jobs > 1 follow joblib's rule, cores // n_jobs")
    parser.add_argument("--precision", default="32-true",
                        help="comma-separated precisions of training to time "
                        "(default 32-true; bf16-mixed is fast on CPUs with AVX512-BF16)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="keep the results files here (default: a temporary "
                        "folder, removed at the end)")
    args = parser.parse_args(argv)
    force_threads(args.threads)

    preset_name, kind = FIGURES[args.figure]
    preset = PRESETS[preset_name].quick() if args.quick else PRESETS[preset_name]
    sweeps = preset.sweeps if kind == "accuracy" else preset.cosine_sweeps
    runs = preset.runs(sweeps)
    f_fits = len({tuple(getattr(c, name) for name in F_SETTINGS) for c in runs})
    print(f"{args.figure}{' (quick)' if args.quick else ''}: {len(sweeps)} sweeps, "
          f"{len(runs)} runs, {f_fits} fits of f (cached; {len(runs) - f_fits} saved); "
          f"torch threads here: {torch.get_num_threads()}; device {args.device}")

    n_jobs_values = args.n_jobs or ("1" if args.quick else "1,2")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        folder = args.output_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        timings = []
        for precision in args.precision.split(","):
            for n_jobs in (int(value) for value in n_jobs_values.split(",")):
                output = folder / (f"{args.figure}-{precision}-n_jobs{n_jobs}"
                                   f"{'-quick' if args.quick else ''}.csv")
                output.unlink(missing_ok=True)
                start = time.perf_counter()
                result = reproduce(
                    args.figure, output, quick=args.quick, n_jobs=n_jobs,
                    settings={"precision": precision, "device": args.device},
                )
                wall = time.perf_counter() - start
                timings.append((precision, n_jobs, wall, result))
                kept = f" (results in {output})" if args.output_dir else ""
                print(f"  {precision} n_jobs={n_jobs}: {wall:8.1f} s, "
                      f"{len(result.results)} runs, "
                      f"{60 * len(result.results) / wall:6.1f} runs/min{kept}")

    _, first_jobs, first_wall, first = timings[0]
    print(f"\n{'precision':>10} {'n_jobs':>6} {'wall (s)':>9} {'runs/min':>9} "
          f"{'speed-up':>9} {'runs that differ':>17}")
    for precision, n_jobs, wall, result in timings:
        # Other thread counts sum in another order, other precisions round
        # otherwise: a run may differ in the last bits and, rarely, in an
        # accuracy.
        differ = _differing_runs(result.results, first.results)
        print(f"{precision:>10} {n_jobs:>6} {wall:>9.1f} "
              f"{60 * len(result.results) / wall:>9.1f} {first_wall / wall:>9.2f} "
              f"{differ:>17}")

    print(f"\nfit seconds per sweep (n_jobs={first_jobs}; a shared run counts once):")
    for name, seconds in _fit_seconds_by_sweep(preset, sweeps, first.results).items():
        print(f"  {name:<22}{seconds:8.1f}")


if __name__ == "__main__":
    main()
