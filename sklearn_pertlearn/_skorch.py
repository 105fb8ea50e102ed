"""The skorch side of the classifier: a tensor batch iterator and a net whose
training step uses the network's closed-form gradients.

Both plug into skorch's own hooks (``iterator_train`` / ``iterator_valid`` and
``train_step``), so the fitted net is an ordinary :class:`skorch.NeuralNet`:
history, callbacks, learning-rate schedulers and cross-device pickling all work
as skorch documents them.
"""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback


class TensorBatches:
    """Iterate over ``(X, y)`` batches of tensors that already sit on the device.

    skorch's default ``DataLoader`` collates every batch sample by sample; the
    paper trains full batch on data that fits on the device, so slicing the
    stored tensors is all an epoch needs.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` (and optionally ``y``) as tensors.
    batch_size : int
        Rows per batch; skorch passes the dataset length for full batch.
    shuffle : bool, default=False
        Draw a new permutation of the rows every epoch.
    seed : int, default=0
        Seed of the permutations; used only when ``shuffle`` is true.
    """

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        self.X = dataset.X
        self.y = dataset.y
        self.batch_size = max(int(batch_size), 1)
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n_samples = len(self.X)
        if self.batch_size >= n_samples:
            yield self.X, self.y
            return
        if self.shuffle:
            order = torch.randperm(n_samples, generator=self.generator)
            order = order.to(self.X.device)
        for start in range(0, n_samples, self.batch_size):
            if self.shuffle:
                rows = order[start : start + self.batch_size]
                yield self.X[rows], None if self.y is None else self.y[rows]
            else:
                stop = start + self.batch_size
                yield self.X[start:stop], None if self.y is None else self.y[start:stop]


class ClosedFormNet(NeuralNet):
    """A :class:`skorch.NeuralNet` for :class:`TwoLayerNetwork` and :class:`MarginLoss`.

    The training step computes the loss and the gradients of the first layer in
    closed form (two matrix products, no autograd graph) and then lets the
    optimizer step, so optimizers, schedulers and callbacks behave as usual.
    """

    def get_default_callbacks(self):
        # Only the epoch's training loss, which the LR scheduler monitors:
        # skorch's other defaults (epoch timer, validation loss, print log) cost
        # time every epoch for numbers nobody reads here.
        return [("train_loss", EpochTrainLoss())]

    def train_step(self, batch, **fit_params):
        X, y = batch
        module = self.module_
        with torch.no_grad():
            preactivation = module.preactivation(X)
            output = module.output(preactivation)
            loss, grad_output = self.criterion_.loss_and_grad(output, y)
            module.weight.grad, module.bias.grad = module.parameter_gradients(
                X, preactivation, grad_output
            )
        self.optimizer_.step()
        return {"loss": loss, "y_pred": output}


class EpochTrainLoss(Callback):
    """Record ``train_loss``, the sample-weighted mean of the epoch's batch losses.

    skorch's ``PassthroughScoring`` does the same through several history
    look-ups per epoch; with thousands of one-step epochs those dominate.
    """

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        batches = epoch["batches"]
        if len(batches) == 1:
            loss = batches[0]["train_loss"]
        else:
            total = sum(batch["train_batch_size"] for batch in batches)
            loss = sum(b["train_loss"] * b["train_batch_size"] for b in batches) / total
        epoch["train_loss"] = loss


def epoch_train_loss(net):
    """Monitor for skorch's ``LRScheduler``: the last epoch's training loss."""
    return net.history[-1]["train_loss"]


class EpochProgressBar(Callback):
    """A tqdm progress bar over epochs that shows the training loss."""

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, unit="epoch", leave=False)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.set_postfix(loss=f"{net.history[-1, 'train_loss']:.4g}", refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        del self.bar_
