"""Time the thread policy: the default fit against forced thread counts.

By default (``n_threads="auto"``) a call whose largest matrix product is below
``PARALLEL_WORK`` multiply-adds runs on one torch thread and a larger one on
all of torch's threads (see ``sklearn_pertlearn/_threads.py``). This script
fits, in one process, best of ``--repeats`` (the default and one thread
alternating, the all-threads fits, which are only context, best of 3):

* two small fits, 200 epochs each: breast_cancer (569 x 30, width 100) and a
  shifted Gaussian (N=1000, d=100, width 100), with the default, with one
  thread forced and with all threads forced (torch's own default, which the
  library used before the policy);
* the large fit (N=10000, d=1000, width 100, ``--large-epochs`` epochs), with
  the default and with one thread forced, under the default solver (Adam on
  mini-batches of 200 rows: small products) and the paper's full-batch SGD
  (large ones).

``--busy`` starts a process that keeps one core busy for the whole run, as a
laptop or a shared server usually has. ``--crossover`` also times one epoch's
two products on one and on all threads from 1e6 to 1e9 multiply-adds, where
the policy's threshold comes from.

The policy follows ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` when they are
set; this script removes them before torch starts, to measure the default that
a user in a fresh shell gets. ``--device`` runs the fits there (the
crossover stays on the CPU, whose threads it times); ``default/1`` below 1
means the policy's choice beat one thread. Run::

    python benchmarks/bench_threads.py --busy
    python benchmarks/bench_threads.py --crossover
    python benchmarks/bench_threads.py --quick      # a smoke run
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.pop(_variable, None)

import argparse  # noqa: E402  (torch reads the variables above at import)
import functools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
from _common import add_common_options, best_times, products_floor  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_pertlearn import WideTwoLayerNetClassifier, config_context  # noqa: E402
from sklearn_pertlearn._threads import PARALLEL_WORK, n_threads_for  # noqa: E402
from sklearn_pertlearn.datasets import make_shifted_gaussian  # noqa: E402

ALL = torch.get_num_threads()
PAUSE = 0.5  # seconds


def fit(X, y, epochs, n_threads, solver, device):
    clf = WideTwoLayerNetClassifier(
        100, solver=solver, max_epochs=epochs, device=device, random_state=0
    )
    with config_context(n_threads=n_threads):
        clf.fit(X, y)


def compare(name, X, y, epochs, settings, repeats, device, solver="adam"):
    # The epoch loop's work: one step's product, a batch of Adam's 200 rows
    # or SGD's full batch, times the features and the width.
    step_rows = len(X) if solver == "sgd" else min(len(X), 200)
    chosen = n_threads_for(step_rows * X.shape[1] * 100, ALL)
    name = f"{name}, {solver}"
    fit(X, y, 2, "auto", solver, device)  # warm-up: first-call costs are not the policy's
    fits = {s: functools.partial(fit, X, y, epochs, s, solver, device) for s in settings}
    # The default and one thread alternate in turn, the slow forced-all-threads
    # fits come after, and each fit starts after a pause: what a fit leaves
    # behind (OpenMP threads spinning, the scheduler's accounting) must not
    # land on one contender more than on the other.
    pair = settings[:2]
    others = [s for s in settings[2:] if s not in pair]  # all threads may be one
    options = dict(warm_up=False, device=device, pause=PAUSE)
    best = best_times({s: fits[s] for s in pair}, repeats, alternate=True, **options)
    for setting in others:
        best |= best_times({setting: fits[setting]}, min(repeats, 3), **options)
    cells = "".join(
        f"{best[s]:>12.3f}" if s in best else f"{'-':>12}" for s in ("auto", 1, ALL)
    )
    ratio = best["auto"] / best[1]
    print(f"{name:<40}{chosen:>8}{cells}{ratio:>11.2f}", flush=True)


def crossover(repeats):
    print(f"\none epoch's two products, width 100, ms (best of {repeats})")
    print(f"{'N':>7}{'d':>6}{'work':>9}{'1 thread':>11}{f'{ALL} threads':>12}{'speed-up':>10}")
    width = 100
    for n_samples, n_features in [
        (1000, 10), (1000, 30), (1000, 100), (3000, 100),
        (1000, 1000), (10000, 100), (3000, 1000), (10000, 300), (10000, 1000),
    ]:
        floor = products_floor(torch.randn(n_samples, n_features), width)
        work = n_samples * n_features * width
        calls = max(3, int(3e8 / work))

        def on(n_threads):
            torch.set_num_threads(n_threads)
            floor(calls)

        best = best_times({n: functools.partial(on, n) for n in (1, ALL)}, repeats)
        best = {n: seconds / calls for n, seconds in best.items()}
        torch.set_num_threads(ALL)
        print(
            f"{n_samples:>7}{n_features:>6}{work:>9.0e}{best[1] * 1e3:>11.3f}"
            f"{best[ALL] * 1e3:>12.3f}{best[1] / best[ALL]:>10.2f}",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    parser.add_argument("--crossover", action="store_true", help="also time the products alone")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many (default 5)")
    parser.add_argument(
        "--large-epochs", type=int, default=10, help="epochs of the large fit (default 10)"
    )
    # No --threads: which threads to run on is what this script measures.
    add_common_options(parser, threads_help=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    # Warm-up fits of two epochs may not converge; that is not what is timed.
    warnings.simplefilter("ignore", ConvergenceWarning)

    busy = None
    if args.busy:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        load = os.getloadavg()[0]
        print(
            f"torch threads outside the library's calls: {ALL}; PARALLEL_WORK = "
            f"{PARALLEL_WORK:.0e} multiply-adds; one core kept busy: {args.busy}; "
            f"load average (1 min) at start: {load:.2f}"
        )
        settings = ("auto", 1, ALL)
        print(
            f"\nfit time, s (best of {args.repeats})\n{'fit, solver':<40}{'threads':>8}"
            f"{'default':>12}{'1 thread':>12}{f'{ALL} threads':>12}{'default/1':>11}"
        )
        if args.quick:
            X, y = make_shifted_gaussian(200, 20, random_state=0)
            compare("shifted gaussian 200 x 20, 20 ep", X, y, 20, settings, 1, args.device)
            return
        X, y = load_breast_cancer(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        compare("breast_cancer 569 x 30, 200 ep", X, y, 200, settings, args.repeats,
                args.device)
        X, y = make_shifted_gaussian(1000, 100, random_state=0)
        compare("shifted gaussian 1000 x 100, 200 ep", X, y, 200, settings, args.repeats,
                args.device)
        X, y = make_shifted_gaussian(10000, 1000, random_state=0)
        name = f"shifted gaussian 10000 x 1000, {args.large_epochs} ep"
        # Mini-batches of Adam's 200 rows are small work; the paper's full
        # batch is the large one.
        for solver in ("adam", "sgd"):
            compare(
                name, X, y, args.large_epochs, ("auto", 1), max(1, args.repeats // 2),
                args.device, solver,
            )
        if args.crossover:
            crossover(args.repeats)
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait()


if __name__ == "__main__":
    main()
