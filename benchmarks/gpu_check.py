"""The one script to run when a GPU is at hand: the CUDA checks and their table.

It runs, in well under five minutes on one GPU:

1. the CUDA tests of the suite (``pytest -k cuda``), which skip elsewhere;
2. the host syncs of a full-batch fit per epoch, under
   ``torch.cuda.set_sync_debug_mode("warn")`` (each sync warns once);
3. the float16 weight gradient's error against float64: a plain float16
   product with cuBLAS's reduced-precision reductions allowed, and the
   library's (float32 result, reductions in float32);
4. ms per epoch on the CPU and on the GPU at the sG(a) size (N=1000, d=100,
   m=100) and at N=10^4, d=10^3, in ``"32-true"``, ``"bf16-mixed"`` and
   ``"16-mixed"``;

and prints one markdown table per part, to paste into docs/scaling.rst. Run::

    python benchmarks/gpu_check.py            # everything
    python benchmarks/gpu_check.py --no-tests # parts 2 to 4

Without a CUDA device it says so and exits with status 2.
"""

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import best_times

from sklearn_pertlearn import WideTwoLayerNetClassifier
from sklearn_pertlearn._network import MarginLoss, TwoLayerNetwork
from sklearn_pertlearn._precision import own_products
from sklearn_pertlearn.datasets import make_shifted_gaussian

SIZES = {"sG(a)": (1000, 100, 100, 200), "N=1e4, d=1e3": (10_000, 1000, 100, 50)}


def run_tests():
    root = Path(__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "tests"], cwd=root
    )
    print(f"\nCUDA tests: exit status {result.returncode}\n")


def syncs_per_epoch(device):
    X, y = make_shifted_gaussian(1000, 100, random_state=0)
    counts = {}
    for epochs in (2, 12):
        clf = WideTwoLayerNetClassifier(
            100, loss="identity", solver="sgd", lr=1.0, max_epochs=epochs, device=device,
            random_state=0,
        )
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clf.fit(X, y)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts[epochs] = sum("synchroniz" in str(w.message) for w in caught)
    print("| fit | syncs per epoch | syncs per fit besides |")
    print("|---|---|---|")
    per_epoch = (counts[12] - counts[2]) / 10
    print(f"| full-batch SGD, sG(a) | {per_epoch:g} | {counts[2] - 2 * per_epoch:g} |\n")


@torch.no_grad()
def fp16_gradient_error(device):
    X, y = make_shifted_gaussian(50_000, 50, random_state=0)
    net = TwoLayerNetwork(50, 100, seed=0).to(device)
    X64 = torch.as_tensor(X, dtype=torch.float64, device=device)
    target = torch.as_tensor((y > 0).astype(np.int64), device=device)
    loss = MarginLoss("identity")

    def weight_gradient(X_t, network, plain=False):
        pre = network.preactivation(X_t)
        grad_output = loss.output_gradient(target, 1, network.weight.dtype)
        if plain:
            # A plain product of the 16-bit operands, with a 16-bit result.
            grad_pre = network._preactivation_gradient(pre, grad_output * 2**10)
            return (grad_pre.t() @ X_t).double() / 2**10
        return network.parameter_gradients(X_t, pre, grad_output)[0].double()

    exact = weight_gradient(X64, net.double())
    net = net.float()
    X16 = X64.half()
    print("| float16 weight gradient | relative error of dL/dW |")
    print("|---|---|")
    matmul = torch.backends.cuda.matmul
    saved = matmul.allow_fp16_reduced_precision_reduction
    try:
        matmul.allow_fp16_reduced_precision_reduction = True
        loose = weight_gradient(X16, net, plain=True)
        with own_products(device.type):
            strict = weight_gradient(X16, net)
    finally:
        matmul.allow_fp16_reduced_precision_reduction = saved
    for name, grad in (("plain product, reduced-precision reduction allowed", loose),
                       ("as the library computes it", strict)):
        error = float((grad - exact).norm() / exact.norm())
        print(f"| {name} | {error:.2e} |")
    print()


def epoch_times(device):
    print("| size | device | precision | ms/epoch |")
    print("|---|---|---|---|")
    for name, (n, d, m, epochs) in SIZES.items():
        X, y = make_shifted_gaussian(n, d, random_state=0)
        for where in ("cpu", device):
            for precision in ("32-true", "bf16-mixed", "16-mixed"):
                if str(where) == "cpu" and precision == "16-mixed":
                    continue
                clf = WideTwoLayerNetClassifier(
                    m, loss="identity", solver="sgd", lr=0.1, max_epochs=epochs,
                    device=str(where), precision=precision, random_state=0,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    best = best_times({"fit": lambda: clf.fit(X, y)}, 3, device=str(where))
                print(f"| {name} | {where} | {precision} | {1e3 * best['fit'] / epochs:.3f} |")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("No CUDA device: nothing to check here.", file=sys.stderr)
        sys.exit(2)
    device = torch.device("cuda:0")
    start = time.perf_counter()
    print(f"# {torch.cuda.get_device_name(device)}, torch {torch.__version__}\n")
    if not args.no_tests:
        run_tests()
    syncs_per_epoch(device)
    fp16_gradient_error(device)
    epoch_times(device)
    print(f"(all in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
