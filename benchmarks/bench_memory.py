"""Peak extra memory and rows per second of prediction and of the attack.

A ``WideTwoLayerNetClassifier(hidden_dim=1000)`` is fitted once on a small
shifted Gaussian (100 features), and so are an
``AdversarialPerturbationTransformer(prefit=True)`` on it and a
``PerturbationLearningClassifier`` of two such networks. Then each call below
runs once on ``--rows`` rows of 100 float32 features (10^4, 10^5, 10^6;
10^3, 10^4 with ``--quick``):

* ``net.predict``, ``net.predict_proba``, ``net.decision_function``;
* ``transformer.transform`` and ``transformer.fit_resample``;
* ``learner.predict`` (the ``PerturbationLearningClassifier``).

Each measurement runs in a fresh process forked from a server that has only
imported the libraries, so that nothing one call allocated or cached is
counted in another. The child loads the model, builds the input, warms the
call up on 100 rows (lazy imports, first allocations), and reads its
resident memory (RSS); the call's peak RSS over that is ``extra MiB``: its
working memory plus its output. torch allocates outside Python's allocator,
so tracemalloc would miss most of it; the peak is the kernel's (``VmHWM``,
reset before the call).

How to read the table: ``extra / input`` is the extra memory in units of the
input's size (400 bytes a row). A call that works in chunks of bounded size
stays near the size of its output: about 1 for ``transform`` and
``fit_resample``, which return an array as large as the input, about 0 for
the others. A call that holds the hidden layer of every row at once sits at
10 per array of N x hidden_dim float32 (4000 bytes a row), 20 with the
pre-activation and the activation. The extra memory is what the operating
system sees, heap fragmentation included: small blocks freed batch after
batch that glibc cannot reuse grow it as one large array would. Rerun with
the environment variable ``MALLOC_MMAP_THRESHOLD_=65536`` (blocks of 64 KiB
and more then go back at once) to tell the two apart. ``--solver sgd`` fits
the networks with full batches, which their prediction then uses too.

``--repeats`` runs each measurement in that many fresh processes and keeps
the largest extra memory (fragmentation varies from run to run) and the best
rows per second. A measurement whose
extra memory, extrapolated from the call's previous size, would pass
``--max-extra-mib`` is skipped, so that a shared machine is not pushed into
swap or the OOM killer. Run::

    python benchmarks/bench_memory.py --threads 1
    python benchmarks/bench_memory.py --rows 10000,100000 --device cuda
    python benchmarks/bench_memory.py --quick       # a smoke run
"""

import argparse
import concurrent.futures
import multiprocessing
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from _common import add_common_options, force_threads, peak_rss_mib, reset_peak_rss, rss_mib

from sklearn_pertlearn import (
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
)
from sklearn_pertlearn.datasets import make_shifted_gaussian

N_FEATURES = 100
HIDDEN_DIM = 1000
WARM_UP_ROWS = 100
# Call name: (the model it belongs to, the method).
CALLS = {
    "net.predict": ("net", "predict"),
    "net.predict_proba": ("net", "predict_proba"),
    "net.decision_function": ("net", "decision_function"),
    "transformer.transform": ("transformer", "transform"),
    "transformer.fit_resample": ("transformer", "fit_resample"),
    "learner.predict": ("learner", "predict"),
}


def fit_models(folder, device, epochs, solver):
    """Fit the three models once and dump each to ``folder``."""
    X, y = make_shifted_gaussian(1000, N_FEATURES, random_state=0)
    solver = {} if solver is None else {"solver": solver}

    def net():
        return WideTwoLayerNetClassifier(
            HIDDEN_DIM, max_epochs=epochs, device=device, random_state=0, **solver
        )

    clf = net().fit(X, y)
    models = {
        "net": clf,
        "transformer": AdversarialPerturbationTransformer(
            clf, prefit=True, random_state=0
        ).fit(X, y),
        "learner": PerturbationLearningClassifier(net(), random_state=0).fit(X, y),
    }
    for name, model in models.items():
        joblib.dump(model, folder / f"{name}.joblib")


def _data(n_rows):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    y = np.where(rng.random(n_rows) < 0.5, -1, 1)
    return X, y


def _measure(call, n_rows, folder, threads, device):
    """In the child: (extra MiB, extra GPU MiB, seconds) of one call."""
    force_threads(threads)
    model_name, method_name = CALLS[call]
    method = getattr(joblib.load(Path(folder) / f"{model_name}.joblib"), method_name)

    def run(X, y):
        return method(X, y) if method_name == "fit_resample" else method(X)

    X, y = _data(n_rows)
    run(X[:WARM_UP_ROWS], y[:WARM_UP_ROWS])
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        gpu_before = torch.cuda.memory_allocated(device)
    before = rss_mib()
    reset_peak_rss()
    start = time.perf_counter()
    run(X, y)
    seconds = time.perf_counter() - start
    extra = peak_rss_mib() - before
    gpu_extra = (torch.cuda.max_memory_allocated(device) - gpu_before) / 2**20 if cuda else None
    return extra, gpu_extra, seconds


def measure(context, call, n_rows, folder, threads, device):
    """One measurement in a fresh process; None if the process died (memory)."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        try:
            return pool.submit(_measure, call, n_rows, str(folder), threads, device).result()
        except concurrent.futures.process.BrokenProcessPool:
            return None


def worst_of(results):
    """The largest extra memories and the best time of several measurements."""
    extra, gpu_extra, seconds = zip(*results)
    return max(extra), None if gpu_extra[0] is None else max(gpu_extra), min(seconds)


def print_rows(context, call, sizes, folder, args):
    """Measure one call at every size and print its rows of the table."""
    previous = None
    for n_rows in sizes:
        input_mib = n_rows * N_FEATURES * 4 / 2**20
        if previous is not None:
            expected = previous[1] * n_rows / previous[0]
            if expected > args.max_extra_mib:
                print(f"{call:<26}{n_rows:>9}  skipped: about {expected:,.0f} MiB "
                      "expected, over --max-extra-mib", flush=True)
                continue
        results = [
            measure(context, call, n_rows, folder, args.threads, args.device)
            for _ in range(args.repeats)
        ]
        if None in results:
            print(f"{call:<26}{n_rows:>9}  the process died (out of memory?)", flush=True)
            return
        extra, gpu_extra, seconds = worst_of(results)
        previous = n_rows, max(extra, gpu_extra or 0.0)
        gpu = "" if gpu_extra is None else f"{gpu_extra:>15.1f}"
        print(f"{call:<26}{n_rows:>9}{extra:>11.1f}{gpu}{input_mib:>11.1f}"
              f"{n_rows / seconds:>12,.0f}{extra / input_mib:>15.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", default=None,
        help="comma-separated row counts (default 10000,100000,1000000; 1000,10000 "
        "with --quick)",
    )
    parser.add_argument(
        "--calls", default=",".join(CALLS),
        help="comma-separated calls to measure (default: all)",
    )
    parser.add_argument(
        "--max-extra-mib", type=float, default=6144,
        help="skip a measurement whose extra memory, extrapolated from the call's "
        "previous size, would pass this (default 6144)",
    )
    parser.add_argument(
        "--solver", choices=["adam", "sgd"], default=None,
        help="solver of the networks (default: the library's)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="fresh processes per measurement; the largest memory is kept (default 1)",
    )
    add_common_options(parser)
    args = parser.parse_args(argv)
    force_threads(args.threads)
    sizes = [int(n) for n in (args.rows or ("1000,10000" if args.quick else
                                            "10000,100000,1000000")).split(",")]
    calls = args.calls.split(",")
    if not set(calls) <= set(CALLS):
        parser.error(f"--calls: unknown {sorted(set(calls) - set(CALLS))}; choose from "
                     f"{list(CALLS)}")
    # A forkserver that has imported torch and the library starts each child
    # in milliseconds (a spawned one takes seconds), and a child forked from
    # it inherits no CUDA context and nothing the parent allocated.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "torch", "skorch", "sklearn_pertlearn"])

    print(
        f"hidden_dim={HIDDEN_DIM}, solver {args.solver or 'default'}, "
        f"{N_FEATURES} float32 features, on {args.device}, "
        f"torch threads {torch.get_num_threads()}"
        f"{'' if args.threads else ' (the library picks per call by size)'}; "
        f"worst of {args.repeats} fresh process(es) per measurement"
    )
    gpu = f"{'GPU extra MiB':>15}" if torch.device(args.device).type == "cuda" else ""
    print(f"{'call':<26}{'rows':>9}{'extra MiB':>11}{gpu}{'input MiB':>11}"
          f"{'rows/s':>12}{'extra / input':>15}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        fit_models(Path(folder), args.device, 5 if args.quick else 50, args.solver)
        for call in calls:
            print_rows(context, call, sizes, folder, args)

if __name__ == "__main__":
    main()
