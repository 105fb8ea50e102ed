"""Time the targeted attack and a GridSearchCV over epsilon against their peers.

Part 1, perturbations per second of the paper's attack (targeted L2 fast
gradient step, exactly epsilon long) on the same trained-size network:

* ``sklearn-pertlearn``: :func:`sklearn_pertlearn.perturbation.targeted_perturbation`,
  which uses the network's closed-form input gradient;
* ``plain autograd``: the attack written with ``torch.autograd.grad`` on the
  whole input at once, as the authors' code does;
* ``ART FGM``: the Adversarial Robustness Toolbox's ``FastGradientMethod``
  (targeted, L2) on a ``PyTorchClassifier`` wrapping the same network, when
  ``adversarial-robustness-toolbox`` is installed (the column is skipped
  otherwise).

Every contender's perturbations are checked against the library's before they
are timed. Part 2 runs ``GridSearchCV`` over 5 epsilons x 2 widths of a
``PerturbationLearningClassifier`` without and with ``memory``, counts the
fits of f, and compares the times. ``--device`` runs the network, the
attacks and the searches' fits there. Run::

    python benchmarks/bench_perturb.py            # the paper's sizes
    python benchmarks/bench_perturb.py --device cuda
    python benchmarks/bench_perturb.py --quick    # a smoke run
"""

import argparse
import functools
import importlib.util
import tempfile
import time

import numpy as np
import torch
from _common import add_common_options, best_times, force_threads
from sklearn.model_selection import GridSearchCV, KFold
from torch.nn import functional as F

from sklearn_pertlearn import PerturbationLearningClassifier, WideTwoLayerNetClassifier
from sklearn_pertlearn._network import TwoLayerNetwork
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_scorer
from sklearn_pertlearn.perturbation import targeted_perturbation

EPSILON = 0.01
HAS_ART = importlib.util.find_spec("art") is not None


def attack_library(module, X, target):
    return targeted_perturbation(module, X, target, epsilon=EPSILON)


def attack_plain_autograd(module, X, target):
    device = next(module.parameters()).device
    X = torch.from_numpy(X).to(device).requires_grad_(True)
    sign = torch.from_numpy(2 * target - 1).to(device, X.dtype)
    loss = (-sign * module(X)).sum()
    (grad,) = torch.autograd.grad(loss, X)
    return (-EPSILON * F.normalize(grad, dim=1)).cpu().numpy()


class _TwoLogits(torch.nn.Module):
    """Margins f as the logits (0, f): the cross entropy's input gradient is
    then parallel to the margin's, so the L2 step is the same."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, X):
        margin = self.network(X)
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


def make_attack_art(module, n_features, batch_size, device):
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        _TwoLogits(module),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(n_features,),
        nb_classes=2,
        device_type="cpu" if torch.device(device).type == "cpu" else "gpu",
    )
    fgm = FastGradientMethod(
        classifier, norm=2, eps=EPSILON, targeted=True, batch_size=batch_size
    )

    def attack_art(module, X, target):
        return fgm.generate(X, y=np.eye(2, dtype=np.float32)[target]) - X

    return attack_art


def bench_attack(n_samples, n_features, width, repeats, device):
    X, _ = make_shifted_gaussian(n_samples, n_features, random_state=0)
    target = np.random.RandomState(0).randint(2, size=n_samples)
    module = TwoLayerNetwork(n_features, width, seed=0).to(device)
    contenders = {
        "sklearn-pertlearn": attack_library,
        "plain autograd": attack_plain_autograd,
    }
    if HAS_ART:
        contenders["ART FGM"] = make_attack_art(module, n_features, n_samples, device)
    reference = attack_library(module, X, target)
    for name, attack in contenders.items():
        error = np.abs(attack(module, X, target) - reference).max() / EPSILON
        if error > 1e-4:
            raise AssertionError(f"{name} disagrees with the library: {error:.2e}")
    # Each timing is a loop of at least 0.2 s: attacks take milliseconds.
    best = best_times(
        {name: functools.partial(attack, module, X, target)
         for name, attack in contenders.items()},
        repeats,
        number=None,
        device=device,
    )
    print(
        f"\nattack: N={n_samples} d={n_features} m={width} on {device} "
        f"(best of {repeats}, torch threads {torch.get_num_threads()})"
    )
    print(f"{'contender':<20}{'ms':>10}{'perturb./s':>14}{'library speed-up':>18}")
    for name, seconds in best.items():
        print(
            f"{name:<20}{seconds * 1e3:>10.1f}{n_samples / seconds:>14,.0f}"
            f"{seconds / best['sklearn-pertlearn']:>18.2f}"
        )
    if not HAS_ART:
        print(f"{'ART FGM':<20}{'skipped: adversarial-robustness-toolbox not installed':>42}")
    return best


class CountingNet(WideTwoLayerNetClassifier):
    """Counts the fits of f."""

    fits = 0

    def fit(self, X, y):
        CountingNet.fits += 1
        return super().fit(X, y)


def bench_grid_search(n_samples, n_features, epochs, n_splits, device):
    X, y = make_shifted_gaussian(n_samples, n_features, random_state=0)
    params = dict(
        slope=0.0, loss="identity", solver="sgd", lr=1.0, max_epochs=epochs,
        device=device, random_state=0,
    )
    grid = {
        "epsilon": [0.0, 0.0025, 0.005, 0.0075, 0.01],
        "estimator__hidden_dim": [50, 100],
    }
    # Neither search should pay torch's and skorch's first-call costs.
    WideTwoLayerNetClassifier(**params).fit(X, y)
    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for label, memory in (("without memory", None), ("with memory", cache)):
            CountingNet.fits = 0
            learner = PerturbationLearningClassifier(
                CountingNet(**params),
                student=WideTwoLayerNetClassifier(**params),
                memory=memory,
                random_state=0,
            )
            search = GridSearchCV(
                learner, grid, cv=KFold(n_splits), scoring=agreement_scorer
            )
            start = time.perf_counter()
            search.fit(X, y)
            rows[label] = (CountingNet.fits, time.perf_counter() - start)
    print(
        f"\nGridSearchCV: 5 epsilons x 2 widths, {n_splits}-fold, N={n_samples} "
        f"d={n_features} epochs={epochs}"
    )
    print(f"{'':<16}{'fits of f':>10}{'seconds':>10}{'speed-up':>10}")
    for label, (fits, seconds) in rows.items():
        speed_up = rows["without memory"][1] / seconds
        print(f"{label:<16}{fits:>10}{seconds:>10.1f}{speed_up:>10.2f}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    add_common_options(parser)
    args = parser.parse_args(argv)
    force_threads(args.threads)
    if args.quick:
        bench_attack(500, 50, 20, 1, args.device)
        bench_grid_search(100, 10, 5, 2, args.device)
        return
    bench_attack(1000, 100, 100, args.repeats, args.device)
    bench_attack(60000, 784, 100, args.repeats, args.device)
    bench_grid_search(1000, 100, 200, 3, args.device)


if __name__ == "__main__":
    main()
