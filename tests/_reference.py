"""The paper's training, written from scratch: references for the classifier's tests."""

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_pertlearn import WideTwoLayerNetClassifier


def _from_scratch_loss(f, y_index, loss, class_weight):
    """The paper's losses, written here from their definitions."""
    rows = torch.arange(len(y_index))
    if f.dim() == 1:
        signed_margin = -(2 * y_index - 1) * f
        per_sample = signed_margin if loss == "identity" else torch.log1p(signed_margin.exp())
    elif loss == "logistic":
        per_sample = torch.logsumexp(f, dim=1) - f[rows, y_index]
    else:
        per_sample = f.mean(dim=1) - f[rows, y_index]
    if class_weight is not None:
        per_sample = per_sample * class_weight[y_index]
    return per_sample.mean()


def _from_scratch_fit(initial, X, y_index, *, loss, slope, epochs, optimizer,
                      class_weight=None, batch_size=None, shuffle_seed=None,
                      scheduler=True):
    """Train the paper's network with autograd, written here from scratch.

    Its own forward pass ``leaky_relu(X W^T + b) @ a`` from the initial weights
    of ``initial``, its own loss, ``optimizer([W, b])`` with autograd, and its
    own loop: full batch, or mini-batches in the order of one
    ``torch.randperm`` per epoch drawn from a generator seeded with
    ``shuffle_seed``. Returns the trained ``(W, b)``.
    """
    weight = initial.weight.detach().clone().requires_grad_()
    bias = initial.bias.detach().clone().requires_grad_()
    readout = initial.readout.detach()
    X = torch.as_tensor(X, dtype=weight.dtype)
    y_index = torch.as_tensor(y_index)
    n_samples = len(X)
    batch_size = batch_size or n_samples
    generator = None if shuffle_seed is None else torch.Generator().manual_seed(shuffle_seed)
    optimizer = optimizer([weight, bias])
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer) if scheduler else None
    for _ in range(epochs):
        order = (
            torch.arange(n_samples) if generator is None
            else torch.randperm(n_samples, generator=generator)
        )
        epoch_loss = 0.0
        for start in range(0, n_samples, batch_size):
            rows = order[start : start + batch_size]
            f = F.leaky_relu(X[rows] @ weight.T + bias, slope) @ readout
            value = _from_scratch_loss(f, y_index[rows], loss, class_weight)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            epoch_loss += value.item() * len(rows) / n_samples
        if plateau is not None:
            plateau.step(epoch_loss)
    return weight.detach(), bias.detach()


def _sgd(lr, momentum=0.9, **settings):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum, **settings)


def _assert_trained_as(module, expected, initial, rtol=1e-5):
    for name, want in zip(("weight", "bias"), expected):
        got = getattr(module, name).detach()
        assert not torch.equal(want, getattr(initial, name).detach())
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


def _repeat_vs_weigh(X, y, weights, **params):
    # Full batch: mini-batches of the repeated rows would hold other rows.
    params = {
        "hidden_dim": 16, "max_epochs": 20, "batch_size": None, "dtype": "float64",
        "random_state": 0,
    } | params
    repeated = WideTwoLayerNetClassifier(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    weighted = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=weights)
    return repeated.decision_function(X), weighted.decision_function(X)

