"""Time WideTwoLayerNetClassifier.fit in float32 against its 16-bit mixed precisions.

Every precision fits the same data with the same settings (identity loss,
full batch, momentum 0.9) in the same process, interleaved, best of
``--repeats``. Beside each fit, ``products alone`` times the two matrix
products of every epoch (the data times the first layer, and the gradient
pattern times the data) in the precision's type: the floor under that fit.

16-bit products are fast only where the hardware has them: the script prints
whether this CPU has bfloat16 instructions (AVX512-BF16, AMX-BF16, ARM BF16)
and the load average, so that numbers from other machines read right.
float16 (``16-mixed``) is timed on CUDA only: on CPUs the library refuses it,
torch having no fast float16 product there. Run::

    python benchmarks/bench_precision.py --threads 1
    python benchmarks/bench_precision.py --device cuda
    python benchmarks/bench_precision.py --quick        # a smoke run
"""

import argparse
import functools
import os

import torch
from _common import add_common_options, best_times, force_threads, products_floor

from sklearn_pertlearn import WideTwoLayerNetClassifier
from sklearn_pertlearn._precision import PRODUCT_DTYPES, cpu_bf16_features
from sklearn_pertlearn.datasets import make_shifted_gaussian


def fit(X, y, width, epochs, precision, device):
    WideTwoLayerNetClassifier(
        width, loss="identity", solver="sgd", lr=0.1, max_epochs=epochs,
        precision=precision, device=device, random_state=0,
    ).fit(X, y)


def bench(n_samples, n_features, width, epochs, repeats, precisions, device):
    X, y = make_shifted_gaussian(n_samples, n_features, random_state=0)
    functions = {}
    for precision in precisions:
        floor = products_floor(
            X, width, dtype=PRODUCT_DTYPES.get(precision, torch.float32), device=device
        )
        # Warm-ups of one epoch: first calls cost, whole fits are slow.
        fit(X, y, width, 1, precision, device)
        floor(1)
        functions["fit", precision] = functools.partial(
            fit, X, y, width, epochs, precision, device
        )
        functions["products alone", precision] = functools.partial(floor, epochs)
    seconds = best_times(functions, repeats, warm_up=False, device=device)
    best = {key: s / epochs * 1e3 for key, s in seconds.items()}
    print(f"\nN={n_samples} d={n_features} m={width} epochs={epochs} on {device} "
          f"(best of {repeats}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f})")
    reference = best[("fit", "32-true")]
    print(f"{'precision':<12}{'fit ms/epoch':>14}{'products ms':>13}"
          f"{'fit / products':>16}{'speed-up of fit':>17}")
    for precision in precisions:
        fit_ms, floor_ms = best[("fit", precision)], best[("products alone", precision)]
        print(f"{precision:<12}{fit_ms:>14.3f}{floor_ms:>13.3f}{fit_ms / floor_ms:>16.2f}"
              f"{reference / fit_ms:>17.2f}")
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_common_options(parser)
    args = parser.parse_args(argv)
    force_threads(args.threads)
    device = args.device
    if torch.device(device).type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
        precisions = ["32-true", "16-mixed"]
        if torch.cuda.get_device_capability(device) >= (8, 0):
            precisions.insert(1, "bf16-mixed")
    else:
        features = cpu_bf16_features()
        print(f"CPU: torch capability {torch.backends.cpu.get_cpu_capability()}; "
              f"bfloat16 instructions: {', '.join(features) or 'none (emulated, slow)'}; "
              "16-mixed is refused on CPUs and not timed")
        precisions = ["32-true", "bf16-mixed"]
    if args.quick:
        bench(200, 20, 16, 20, 1, precisions, device)
        return
    bench(1000, 100, 100, 1000, args.repeats, precisions, device)
    bench(10000, 1000, 100, 100, args.repeats, precisions, device)


if __name__ == "__main__":
    main()
