"""What the benchmark scripts share: their options, the timing loop, the floor
under a fit and the reading of peak memory.

Every ``bench_*.py`` takes ``--quick`` (tiny sizes: a smoke run of seconds)
and ``--device`` through :func:`add_common_options`, times its contenders with
:func:`best_times` and, where it times a fit, puts :func:`products_floor`
beside it: the epoch's two matrix products, the lower bound of any fit.
"""

import argparse
import resource
import sys
import time
import timeit

import torch

import sklearn_pertlearn
from sklearn_pertlearn._validation import check_device

THREADS_HELP = (
    "threads of every call (default: the library's policy by size); 1 is steadier "
    "on a busy machine"
)


def _device(name):
    # The library's own check, so that an absent CUDA device stops the script
    # at once with the library's message instead of a torch traceback later.
    try:
        return str(check_device(name))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_common_options(parser, threads_help=THREADS_HELP):
    """Add ``--quick``, ``--device`` and, unless ``threads_help`` is None, ``--threads``."""
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--device", type=_device, default="cpu",
        help="device of every timed call: cpu (default), cuda or cuda:N",
    )
    if threads_help is not None:
        parser.add_argument("--threads", type=int, default=None, help=threads_help)


def force_threads(n_threads):
    """Run torch and every call of the library on ``n_threads``; None changes nothing."""
    if n_threads is not None:
        torch.set_num_threads(n_threads)
        # The library's own thread policy would otherwise pick per call.
        sklearn_pertlearn.set_config(n_threads=n_threads)


def synchronize(device):
    """Wait for the work queued on ``device``, so that a clock read next counts it."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_times(
    functions, repeats, *, number=1, warm_up=True, clock=time.perf_counter,
    device="cpu", alternate=False, pause=0.0,
):
    """Best time of one call of each function over ``repeats`` rounds.

    Parameters
    ----------
    functions : dict
        Name to a callable without arguments.
    repeats : int
        Rounds; each round times every function once, in turn, so that a
        changing load on a shared machine hits them alike.
    number : int or None, default=1
        Calls per timing. None: as many as last 0.2 s (timeit's autorange,
        whose calibrating calls are the warm-up), so that a millisecond call is
        not at the mercy of one scheduler hiccup.
    warm_up : bool, default=True
        Call each function once before timing: lazy imports and first
        allocations are not what is timed. Pass False after a warm-up of your
        own (a cheaper one, or one whose result you keep).
    clock : callable, default=time.perf_counter
        ``time.process_time`` measures this process's CPU time instead.
    device : str, default="cpu"
        Each call ends by waiting for this device (CUDA runs asynchronously).
    alternate : bool, default=False
        Reverse the order every other round, so that what a call leaves behind
        (spinning threads, the scheduler's accounting) lands on all alike.
    pause : float, default=0.0
        Seconds of sleep before each timing.

    Returns
    -------
    best : dict
        Name to the best seconds per call.
    """
    def call(function):
        def run():
            function()
            synchronize(device)
        return run

    timers = {name: timeit.Timer(call(function), timer=clock)
              for name, function in functions.items()}
    if number is None:
        numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    else:
        numbers = dict.fromkeys(timers, number)
        if warm_up:
            for timer in timers.values():
                timer.timeit(1)
    best = dict.fromkeys(timers, float("inf"))
    names = list(timers)
    for round_ in range(repeats):
        for name in names[::-1] if alternate and round_ % 2 else names:
            time.sleep(pause)
            best[name] = min(best[name], timers[name].timeit(numbers[name]) / numbers[name])
    return best


def products_floor(X, width, *, dtype=None, device="cpu"):
    """Return ``run(epochs)``, the floor under a full-batch fit of ``width`` neurons.

    ``run`` does nothing but the two matrix products that every epoch needs:
    the data times the first layer (forward) and the gradient pattern times
    the data (the first layer's gradient), in ``dtype`` (default: X's) on
    ``device``. A fit's time over this is its overhead.
    """
    X = torch.as_tensor(X)
    X = X.to(device=device, dtype=dtype or X.dtype)
    weight = torch.randn(width, X.shape[1], dtype=X.dtype, device=device)
    pattern = torch.rand(len(X), width, dtype=X.dtype, device=device)

    def run(epochs):
        for _ in range(epochs):
            X @ weight.T
            pattern.T @ X

    return run


def _status_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def rss_mib():
    """This process's resident memory now, MiB (Linux)."""
    return _status_mib("VmRSS:")


def peak_rss_mib():
    """This process's peak resident memory, MiB.

    On Linux ``VmHWM``: ``ru_maxrss`` would also count the parent's memory at
    the fork, which survives the exec of a spawned child.
    """
    try:
        return _status_mib("VmHWM:")
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024  # bytes there, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak_rss():
    """Bring the peak down to the resident memory now (Linux 4.0+), so that
    :func:`peak_rss_mib` then reads the peak of what follows alone."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
