"""Speed of the theory tools: the closed-form kernel against the authors' Monte
Carlo estimator, and the decision map.

The authors estimate Phi by Monte Carlo over 1000 drawn neurons; the library
evaluates its closed form. For each size this prints the time of both (best of
``--repeat`` runs, float32, as the authors run it), their ratio and their
largest error against the float64 closed form, and, as a floor rather than a
contender, the strip products and arcsines that the exact path cannot avoid in
torch; ``MC / exact`` above 1 is the closed form's speed-up. Then it times
a decision map of the authors' size (400 x 400 grid, N = 1000, d = 100) with
two trained networks, and, with ``--large``, the sums over N = 10000 training
points against a 400 x 400 grid in a child process, to report its peak memory
(read from /proc, so on Linux).

Run ``python benchmarks/bench_theory.py``; ``--threads`` pins the thread
count of every call, ``--clock cpu`` measures CPU time instead of wall time,
``--device cuda`` runs the kernels, the networks and the map there and
``--quick`` is a smoke run on small sizes.
"""

import argparse
import multiprocessing
import time

import numpy as np
import torch
from _common import add_common_options, best_times, force_threads, peak_rss_mib

from sklearn_pertlearn._kernel import _strip_rows, _unit_rows
from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_gaussian, make_shifted_gaussian
from sklearn_pertlearn.theory import decision_map, hat_f, phi_kernel
from sklearn_pertlearn.transformer import AdversarialPerturbationTransformer

# Wall-clock time by default; ``--clock cpu`` switches to this process's CPU
# time, which the other load of a shared machine disturbs far less (with
# ``--threads 1`` it is the compute time itself).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def products_and_arcsine_alone(X, device):
    """Not a contender: the work of the exact path that no implementation in
    torch avoids, as a floor. The products of the library's strips on and above
    the diagonal and their arcsines (5/8 of the kernel at N = 1000), without the
    validation, the clamp, the affine map and the mirror copy."""
    unit = _unit_rows(torch.as_tensor(X, device=device))
    n_samples = len(X)
    out = unit.new_empty((n_samples, n_samples))
    step = _strip_rows(n_samples)

    def floor():
        for start in range(0, n_samples, step):
            strip = out[start : start + step, start:]
            torch.mm(unit[start : start + step], unit[start:].T, out=strip).asin_()

    return floor


def kernel_rows(sizes, repeat, clock, device):
    rows = []
    for n_samples, n_features in sizes:
        X, _ = make_gaussian(n_samples, n_features, random_state=0)
        exact_64 = phi_kernel(X.astype(np.float64), device=device)
        functions = {
            "exact": lambda: phi_kernel(X, device=device),
            "monte carlo": lambda: phi_kernel(
                X, method="monte_carlo", random_state=0, device=device
            ),
            "floor": products_and_arcsine_alone(X, device),
        }
        # The warm-up calls give the results whose errors are printed.
        exact, estimate, _ = (function() for function in functions.values())
        best = best_times(functions, repeat, warm_up=False, clock=clock, device=device)
        rows.append(
            (
                f"N={n_samples}, d={n_features}",
                best["exact"],
                np.abs(exact - exact_64).max(),
                best["monte carlo"],
                np.abs(estimate - exact_64).max(),
                best["floor"],
            )
        )
        del exact_64, exact, estimate
    return rows


def _paper_net(max_epochs, device):
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
        device=device,
        random_state=0,
    )


def decision_map_time(n_samples, n_features, epochs, resolution, repeat, clock, device):
    """Time of decision_map for sG(a) networks f and g."""
    X, y = make_shifted_gaussian(n_samples, n_features, random_state=0)
    f = _paper_net(epochs, device).fit(X, y)
    X_adv, y_adv = AdversarialPerturbationTransformer(
        f, epsilon=0.01, base="none", targets="random", prefit=True, random_state=0
    ).fit_resample(X, y)
    g = _paper_net(epochs, device).fit(X_adv, y_adv)

    def draw():
        return decision_map(
            X, y, f, g, X_adv=X_adv, resolution=resolution, device=device
        )

    result = draw()  # the warm-up, whose agreement is printed
    seconds = best_times({"map": draw}, repeat, warm_up=False, clock=clock, device=device)
    return seconds["map"], result.agreement.mean()


def _large_sums(queue, n_samples, n_features, resolution, device):
    X, y = make_gaussian(n_samples, n_features, random_state=0)
    rng = np.random.default_rng(1)
    grid = rng.standard_normal((resolution * resolution, n_features), np.float32)
    before = peak_rss_mib()
    start = time.perf_counter()
    hat_f(X, y, grid, device=device)
    seconds = time.perf_counter() - start
    queue.put((seconds, before, peak_rss_mib()))


def large_sums(n_samples, n_features, resolution, device):
    """hat_f over N training points at resolution^2 points, in a child process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_large_sums, args=(queue, n_samples, n_features, resolution, device)
    )
    child.start()
    result = queue.get()
    child.join()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    add_common_options(parser)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--resolution", type=int, default=400)
    parser.add_argument(
        "--skip-big", action="store_true", help="leave out N=10000, d=1000"
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="also time hat_f for N=10000 (1000 with --quick) at resolution^2 "
        "points, with memory",
    )
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    force_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.clock} clock\n"
    )

    # Kernel sizes (N, d); the map's N, d and epochs of f and g; the N of --large.
    if args.quick:
        sizes, map_size, large_samples = [(200, 20)], (200, 100, 10), 1000
        args.resolution, args.repeat = min(args.resolution, 20), 1
    else:
        sizes = [(1000, 100)] + ([] if args.skip_big else [(10_000, 1000)])
        map_size, large_samples = (1000, 100, 100), 10_000
    print("Phi(X, X), float32; errors against the float64 closed form")
    header = (
        f"{'size':<18}{'exact s':>10}{'exact err':>12}"
        f"{'MC-1000 s':>12}{'MC err':>10}{'MC / exact':>12}"
        f"{'floor s':>10}{'MC / floor':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = kernel_rows(sizes, args.repeat, clock, args.device)
    for name, exact_s, exact_err, mc_s, mc_err, floor_s in rows:
        print(
            f"{name:<18}{exact_s:>10.4f}{exact_err:>12.1e}"
            f"{mc_s:>12.4f}{mc_err:>10.3f}{mc_s / exact_s:>11.1f}x"
            f"{floor_s:>10.4f}{mc_s / floor_s:>11.1f}x"
        )

    seconds, agreement = decision_map_time(
        *map_size, args.resolution, args.repeat, clock, args.device
    )
    print(
        f"\ndecision_map, {args.resolution}x{args.resolution} grid, N={map_size[0]}, "
        f"d={map_size[1]}, with f, g, hat_f and hat_g: {seconds:.2f} s "
        f"(sign f = sign g on {agreement:.1%} of the grid)"
    )
    if args.large:
        seconds, before_mib, peak_mib = large_sums(
            large_samples, 100, args.resolution, args.device
        )
        print(
            f"hat_f, N={large_samples}, d=100, {args.resolution**2} points: {seconds:.1f} s, "
            f"peak memory {peak_mib:.0f} MiB ({before_mib:.0f} MiB before the call: "
            "torch, the data and the points)"
        )


if __name__ == "__main__":
    main()
