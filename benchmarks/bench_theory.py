"""Speed of the theory tools: the closed-form kernel against the authors' Monte
Carlo estimator, and the decision map.

The authors estimate Phi by Monte Carlo over 1000 drawn neurons; the library
evaluates its closed form. For each size this prints the time of both (best of
``--repeat`` runs, float32, as the authors run it), their ratio and their
largest error against the float64 closed form, and, as a floor rather than a
contender, the strip products and arcsines that the exact path cannot avoid in
torch. Then it times a decision map of
the authors' size (400 x 400 grid, N = 1000, d = 100) with two trained
networks, and, with ``--large``, the sums over N = 10000 training points
against a 400 x 400 grid in a child process, to report its peak memory (read
from /proc, so on Linux).

Run ``python benchmarks/bench_theory.py``; ``--threads`` pins the thread
count of every call and ``--clock cpu`` measures CPU time instead of wall time.
"""

import argparse
import multiprocessing
import time

import numpy as np
import torch
from _threads_option import add_threads_option, force_threads

from sklearn_pertlearn._kernel import _strip_rows, _unit_rows
from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_gaussian, make_shifted_gaussian
from sklearn_pertlearn.theory import decision_map, hat_f, phi_kernel
from sklearn_pertlearn.transformer import AdversarialPerturbationTransformer

# Wall-clock time by default; ``--clock cpu`` switches to this process's CPU
# time, which the other load of a shared machine disturbs far less (with
# ``--threads 1`` it is the compute time itself).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_times(functions, repeat, clock):
    """``(best time, result)`` of each function over ``repeat`` calls after a
    warm-up call, the calls interleaved so that a changing load on a shared
    machine hits them alike."""
    results = [function() for function in functions]
    times = [[] for _ in functions]
    for _ in range(repeat):
        for function, spent in zip(functions, times):
            start = clock()
            function()
            spent.append(clock() - start)
    return [(min(spent), result) for spent, result in zip(times, results)]


def products_and_arcsine_alone(X):
    """Not a contender: the work of the exact path that no implementation in
    torch avoids, as a floor. The products of the library's strips on and above
    the diagonal and their arcsines (5/8 of the kernel at N = 1000), without the
    validation, the clamp, the affine map and the mirror copy."""
    unit = _unit_rows(torch.as_tensor(X))
    n_samples = len(X)
    out = unit.new_empty((n_samples, n_samples))
    step = _strip_rows(n_samples)

    def floor():
        for start in range(0, n_samples, step):
            strip = out[start : start + step, start:]
            torch.mm(unit[start : start + step], unit[start:].T, out=strip).asin_()

    return floor


def kernel_rows(sizes, repeat, clock):
    rows = []
    for n_samples, n_features in sizes:
        X, _ = make_gaussian(n_samples, n_features, random_state=0)
        exact_64 = phi_kernel(X.astype(np.float64))
        (exact_time, exact), (monte_carlo_time, estimate), (floor_time, _) = best_times(
            [
                lambda: phi_kernel(X),
                lambda: phi_kernel(X, method="monte_carlo", random_state=0),
                products_and_arcsine_alone(X),
            ],
            repeat,
            clock,
        )
        rows.append(
            (
                f"N={n_samples}, d={n_features}",
                exact_time,
                np.abs(exact - exact_64).max(),
                monte_carlo_time,
                np.abs(estimate - exact_64).max(),
                floor_time,
            )
        )
        del exact_64, exact, estimate
    return rows


def _paper_net(max_epochs):
    return WideTwoLayerNetClassifier(
        hidden_dim=100,
        slope=0.0,
        loss="identity",
        solver="sgd",
        lr=1.0,
        max_epochs=max_epochs,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        random_state=0,
    )


def decision_map_time(resolution, repeat, clock):
    """Time of decision_map for sG(a) networks f and g (N = 1000, d = 100)."""
    X, y = make_shifted_gaussian(1000, 100, random_state=0)
    f = _paper_net(100).fit(X, y)
    X_adv, y_adv = AdversarialPerturbationTransformer(
        f, epsilon=0.01, base="none", targets="random", prefit=True, random_state=0
    ).fit_resample(X, y)
    g = _paper_net(100).fit(X_adv, y_adv)
    ((seconds, result),) = best_times(
        [lambda: decision_map(X, y, f, g, X_adv=X_adv, resolution=resolution)],
        repeat,
        clock,
    )
    return seconds, result.agreement.mean()


def _peak_memory_mib():
    """This process's peak resident memory (Linux). ``ru_maxrss`` would also
    count the parent's memory at the fork, which survives the exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _large_sums(queue, n_samples, n_features, resolution):
    X, y = make_gaussian(n_samples, n_features, random_state=0)
    rng = np.random.default_rng(1)
    grid = rng.standard_normal((resolution * resolution, n_features), np.float32)
    before = _peak_memory_mib()
    start = time.perf_counter()
    hat_f(X, y, grid)
    seconds = time.perf_counter() - start
    queue.put((seconds, before, _peak_memory_mib()))


def large_sums(n_samples, n_features, resolution):
    """hat_f over N training points at resolution^2 points, in a child process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_large_sums, args=(queue, n_samples, n_features, resolution)
    )
    child.start()
    result = queue.get()
    child.join()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    add_threads_option(parser)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--resolution", type=int, default=400)
    parser.add_argument(
        "--skip-big", action="store_true", help="leave out N=10000, d=1000"
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="also time hat_f for N=10000 at resolution^2 points, with memory",
    )
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    force_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.clock} clock\n"
    )

    sizes = [(1000, 100)] + ([] if args.skip_big else [(10_000, 1000)])
    print("Phi(X, X), float32; errors against the float64 closed form")
    header = (
        f"{'size':<18}{'exact s':>10}{'exact err':>12}"
        f"{'MC-1000 s':>12}{'MC err':>10}{'MC / exact':>12}"
        f"{'floor s':>10}{'MC / floor':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = kernel_rows(sizes, args.repeat, clock)
    for name, exact_s, exact_err, mc_s, mc_err, floor_s in rows:
        print(
            f"{name:<18}{exact_s:>10.4f}{exact_err:>12.1e}"
            f"{mc_s:>12.4f}{mc_err:>10.3f}{mc_s / exact_s:>11.1f}x"
            f"{floor_s:>10.4f}{mc_s / floor_s:>11.1f}x"
        )

    seconds, agreement = decision_map_time(args.resolution, args.repeat, clock)
    print(
        f"\ndecision_map, {args.resolution}x{args.resolution} grid, N=1000, d=100, "
        f"with f, g, hat_f and hat_g: {seconds:.2f} s "
        f"(sign f = sign g on {agreement:.1%} of the grid)"
    )
    if args.large:
        seconds, before_mib, peak_mib = large_sums(10_000, 100, args.resolution)
        print(
            f"hat_f, N=10000, d=100, {args.resolution**2} points: {seconds:.1f} s, "
            f"peak memory {peak_mib:.0f} MiB ({before_mib:.0f} MiB before the call: "
            "torch, the data and the points)"
        )


if __name__ == "__main__":
    main()
