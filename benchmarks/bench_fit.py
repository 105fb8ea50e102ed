"""Time WideTwoLayerNetClassifier.fit against its peers on the paper's sizes.

Every contender runs the same algorithm in the same process: a two-layer
network of width m, full-batch SGD with momentum 0.9 for a fixed number of
epochs. The peers are

* ``plain torch``: a hand-written PyTorch autograd loop of the authors'
  algorithm (identity loss, ReduceLROnPlateau on the training loss);
* ``MLPClassifier``: scikit-learn's multi-layer perceptron with the same width,
  momentum, batch and epochs (it also trains its second layer);
* ``plain skorch``: a skorch ``NeuralNet`` with its default ``DataLoader``.

``products alone`` is no contender but the floor: the two matrix products of
the data with the first layer that every full-batch epoch needs.

``--device`` runs every contender there but ``MLPClassifier``, which has only
the CPU. Each contender is timed ``--repeats`` times, interleaved, and the best
time is kept, which makes the ratios robust to a busy machine. The table gives
milliseconds per epoch and ``library / this``: below 1, the library is the
faster. Run::

    python benchmarks/bench_fit.py                  # both sizes
    python benchmarks/bench_fit.py --device cuda
    python benchmarks/bench_fit.py --quick          # a smoke run
"""

import argparse
import functools
import warnings

import numpy as np
import torch
from _common import add_common_options, best_times, force_threads, products_floor
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNet
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_pertlearn import WideTwoLayerNetClassifier
from sklearn_pertlearn._network import MarginLoss, TwoLayerNetwork
from sklearn_pertlearn.datasets import make_shifted_gaussian

LR = 0.1


def fit_library(X, y, width, epochs, device):
    WideTwoLayerNetClassifier(
        width, loss="identity", solver="sgd", lr=LR, max_epochs=epochs,
        device=device, random_state=0,
    ).fit(X, y)


def fit_plain_torch(X, y, width, epochs, device):
    X = torch.from_numpy(X).to(device)
    sign = torch.from_numpy(y).float().to(device)
    module = TwoLayerNetwork(X.shape[1], width, seed=0).to(device)
    optimizer = torch.optim.SGD(module.parameters(), lr=LR, momentum=0.9)
    scheduler = ReduceLROnPlateau(optimizer)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = (-sign * module(X)).mean()
        loss.backward()
        optimizer.step()
        scheduler.step(loss.item())


def fit_mlp(X, y, width, epochs, device):
    # scikit-learn has only the CPU, whatever the device of the others.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(
            (width,),
            solver="sgd",
            alpha=0.0,
            batch_size=len(X),
            learning_rate_init=LR,
            momentum=0.9,
            nesterovs_momentum=False,
            max_iter=epochs,
            n_iter_no_change=epochs + 1,
            shuffle=False,
            random_state=0,
        ).fit(X, y)


def fit_plain_skorch(X, y, width, epochs, device):
    NeuralNet(
        TwoLayerNetwork,
        module__n_features=X.shape[1],
        module__hidden_dim=width,
        criterion=MarginLoss,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=LR,
        max_epochs=epochs,
        batch_size=-1,
        train_split=None,
        callbacks=[LRScheduler(ReduceLROnPlateau, monitor="train_loss")],
        device=device,
        verbose=0,
    ).fit(X, (y > 0).astype(np.int64))


CONTENDERS = {
    "sklearn-pertlearn": fit_library,
    "plain torch": fit_plain_torch,
    "MLPClassifier": fit_mlp,
    "plain skorch": fit_plain_skorch,
}


def bench(n_samples, n_features, width, epochs, repeats, device):
    X, y = make_shifted_gaussian(n_samples, n_features, random_state=0)
    floor = products_floor(X, width, device=device)
    functions = {
        name: functools.partial(fit, X, y, width, epochs, device)
        for name, fit in CONTENDERS.items()
    }
    functions["products alone"] = functools.partial(floor, epochs)
    # A one-epoch warm-up: lazy imports and first allocations, at a fraction
    # of a whole fit's cost.
    for fit in CONTENDERS.values():
        fit(X, y, width, 1, device)
    floor(1)
    seconds = best_times(functions, repeats, warm_up=False, device=device)
    best = {name: s / epochs * 1e3 for name, s in seconds.items()}
    print(f"\nN={n_samples} d={n_features} m={width} epochs={epochs} on {device} "
          f"(best of {repeats}, torch threads {torch.get_num_threads()})")
    print(f"{'contender':<20}{'ms/epoch':>10}{'library / this':>17}")
    for name, ms in best.items():
        print(f"{name:<20}{ms:>10.3f}{best['sklearn-pertlearn'] / ms:>17.2f}")
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_common_options(parser)
    args = parser.parse_args(argv)
    force_threads(args.threads)
    if args.quick:
        bench(200, 20, 16, 20, 1, args.device)
        return
    bench(1000, 100, 100, 1000, args.repeats, args.device)
    bench(10000, 1000, 100, 100, args.repeats, args.device)


if __name__ == "__main__":
    main()
