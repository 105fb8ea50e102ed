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
from torch.optim import Optimizer
from torch.optim import optimizer as _optimizer_module
from torch.optim.lr_scheduler import ReduceLROnPlateau


class TensorBatches:
    """Iterate over ``(X, y)`` batches of tensors that already sit on the device.

    skorch's default ``DataLoader`` collates every batch sample by sample; the
    paper trains full batch on data that fits on the device, so slicing the
    stored tensors is all an epoch needs.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` (and optionally ``y``) as tensors; ``X`` may be a dict of
        tensors with rows in common (the inputs and their sample weights).
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
        return -(-_n_rows(self.X) // self.batch_size)

    def __iter__(self):
        n_samples = _n_rows(self.X)
        if self.batch_size >= n_samples:
            yield self.X, self.y
            return
        if self.shuffle:
            inputs = self.X["X"] if isinstance(self.X, dict) else self.X
            order = torch.randperm(n_samples, generator=self.generator).to(inputs.device)
        for start in range(0, n_samples, self.batch_size):
            if self.shuffle:
                rows = order[start : start + self.batch_size]
            else:
                rows = slice(start, start + self.batch_size)
            yield _take(self.X, rows), _take(self.y, rows)


def _n_rows(X):
    return len(X["X"]) if isinstance(X, dict) else len(X)


def _take(data, rows):
    """The ``rows`` (a slice or an index tensor) of a tensor, a dict of tensors, or None."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: value[rows] for key, value in data.items()}
    return data[rows]


def unpack_batch(batch):
    """``(X, y, sample_weight)`` of a batch; ``sample_weight`` is None without weights."""
    X, y = batch
    if isinstance(X, dict):
        return X["X"], y, X["sample_weight"]
    return X, y, None


class ClosedFormNet(NeuralNet):
    """A :class:`skorch.NeuralNet` for :class:`TwoLayerNetwork` and :class:`MarginLoss`.

    The training step computes the loss and the gradients of the first layer in
    closed form (two matrix products, no autograd graph) and hands them to the
    optimizer through :func:`optimizer_step`, so any optimizer, scheduler and
    callback behaves as usual. Inputs of a 16-bit type (mixed precision) make
    the two products run in that type; the weights, the optimizer's state and
    the loss stay in the weights' dtype.
    """

    def get_default_callbacks(self):
        # Only the epoch's training loss, which the LR scheduler monitors:
        # skorch's other defaults (epoch timer, validation loss, print log) cost
        # time every epoch for numbers nobody reads here.
        return [("train_loss", EpochTrainLoss())]

    def train_step(self, batch, **fit_params):
        X, y, sample_weight = unpack_batch(batch)
        module, criterion = self.module_, self.criterion_
        with torch.no_grad():
            preactivation = module.preactivation(X)
            if criterion.is_linear:
                # The gradient of a linear loss does not depend on f, and the
                # loss itself comes from the parameter gradients below: f is
                # not computed at all.
                output = None
                grad_output = criterion.output_gradient(
                    y, module.n_outputs, module.weight.dtype, sample_weight
                )
            else:
                output = module.output(preactivation)
                loss, grad_output = criterion.loss_and_grad(output, y, sample_weight)
            params = (module.weight, module.bias)
            grads = module.parameter_gradients(X, preactivation, grad_output)
            if output is None:
                # f is positively homogeneous of degree 1 in every neuron's
                # (w_k, b_k), so a loss linear in f equals <theta, dL/dtheta>.
                loss = (params[0] * grads[0]).sum() + torch.dot(params[1], grads[1])
            optimizer_step(self.optimizer_, params, grads)
        return {"loss": loss, "y_pred": output}


_SGD_SETTINGS = ("lr", "momentum", "dampening", "weight_decay")


class SGD(torch.optim.SGD):
    """:class:`torch.optim.SGD` whose constructor does not import ``torch._dynamo``.

    torch wraps ``Optimizer.add_param_group`` in ``torch._disable_dynamo``,
    which imports the compiler stack ``torch._dynamo`` (about a second, in
    every fresh process and joblib worker) the first time it runs, which is in
    the optimizer's constructor. The wrapper only matters under
    ``torch.compile``, which the training step does not use, so this class
    adds its parameter groups with the unwrapped method.
    """

    add_param_group = getattr(
        Optimizer.add_param_group, "__wrapped__", Optimizer.add_param_group
    )


class Adam(torch.optim.Adam):
    """:class:`torch.optim.Adam` that does not import ``torch._dynamo`` either.

    Its constructor is :class:`SGD`'s. Its ``step`` is torch's without the
    wrapper that switches gradients off (the closed-form training step runs
    under ``torch.no_grad()`` already) and marks a graph break for
    ``torch.compile``, for which it imports the compiler stack.
    """

    add_param_group = SGD.add_param_group
    step = getattr(torch.optim.Adam.step, "__wrapped__", torch.optim.Adam.step)


@torch.no_grad()
def optimizer_step(optimizer, params, grads):
    """Step ``optimizer`` with the given gradients of ``params``.

    Plain :class:`torch.optim.SGD` or :class:`SGD` (one parameter group
    holding exactly ``params``, numbers as settings, neither ``fused`` nor
    ``differentiable``) is applied here with torch's own arithmetic and state (the
    ``momentum_buffer`` of every parameter), weight decay, dampening, Nesterov
    and ``maximize`` included: ``optimizer.step()`` costs about 0.2 ms per call
    in bookkeeping, a sixth of a full-batch epoch at the paper's size. Every
    other optimizer, and any optimizer with step hooks (its own or torch's
    global ones, which only ``optimizer.step()`` runs), receives the gradients
    in ``param.grad`` and steps itself.
    """
    group = optimizer.param_groups[0]
    plain_sgd = (
        type(optimizer) in (torch.optim.SGD, SGD)
        and not _has_step_hooks(optimizer)
        and len(optimizer.param_groups) == 1
        and len(group["params"]) == len(params)
        and all(p is q for p, q in zip(group["params"], params))
        and not (group.get("fused") or group.get("differentiable"))
        and not any(isinstance(group[key], torch.Tensor) for key in _SGD_SETTINGS)
    )
    if not plain_sgd:
        for param, grad in zip(params, grads):
            param.grad = grad
        optimizer.step()
        return
    lr, momentum, dampening, weight_decay = (group[key] for key in _SGD_SETTINGS)
    for param, grad in zip(params, grads):
        # The steps of torch.optim.sgd._single_tensor_sgd, in its order.
        if group["maximize"]:
            grad = -grad
        if weight_decay:
            grad = grad.add(param, alpha=weight_decay)
        if momentum:
            state = optimizer.state[param]
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.clone()
            else:
                buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buffer, alpha=momentum) if group["nesterov"] else buffer
        param.add_(grad, alpha=-lr)


def _has_step_hooks(optimizer):
    """Whether ``optimizer.step()`` would run a step pre- or post-hook."""
    return bool(
        optimizer._optimizer_step_pre_hooks
        or optimizer._optimizer_step_post_hooks
        or _optimizer_module._global_optimizer_pre_hooks
        or _optimizer_module._global_optimizer_post_hooks
    )


class EpochTrainLoss(Callback):
    """Record ``train_loss``, the weighted mean of the epoch's batch losses.

    Batches count by their total sample weight, or by their size without
    sample weights. skorch's ``PassthroughScoring`` does the same through
    several history look-ups per epoch; with thousands of one-step epochs
    those dominate.
    """

    def on_batch_end(self, net, batch, training, **kwargs):
        sample_weight = unpack_batch(batch)[2]
        if training and sample_weight is not None:
            net.history.record_batch("train_weight", float(sample_weight.sum()))

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        batches = epoch["batches"]
        if len(batches) == 1:
            loss = batches[0]["train_loss"]
        else:
            key = "train_weight" if "train_weight" in batches[0] else "train_batch_size"
            total = sum(batch[key] for batch in batches)
            loss = sum(batch["train_loss"] * batch[key] for batch in batches) / max(total, 1e-300)
        epoch["train_loss"] = loss


class PlateauScheduler(Callback):
    """Step :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` on every epoch's ``train_loss``.

    Unlike skorch's ``LRScheduler``, which builds a new scheduler at every
    ``partial_fit``, the scheduler lives as long as the optimizer, so that
    ``n`` calls of one epoch each schedule the learning rate exactly as one
    call of ``n`` epochs. The learning rate of every epoch is recorded in the
    history as ``lr``.

    Parameters
    ----------
    **kwargs
        Passed to ``ReduceLROnPlateau``; its defaults are the paper's.
    """

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def initialize(self):
        self.scheduler_ = None
        self.scheduler_state_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        if self.scheduler_ is None or self.scheduler_.optimizer is not net.optimizer_:
            self.scheduler_ = ReduceLROnPlateau(net.optimizer_, **self.kwargs)
            if self.scheduler_state_ is not None:
                self.scheduler_.load_state_dict(self.scheduler_state_)
                self.scheduler_state_ = None

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        epoch["lr"] = net.optimizer_.param_groups[0]["lr"]
        self.scheduler_.step(epoch["train_loss"])

    def __getstate__(self):
        # The scheduler holds the optimizer, which skorch pickles on its own
        # and maps to the loading machine's device; keep only the state.
        state = self.__dict__.copy()
        if state.get("scheduler_") is not None:
            state["scheduler_state_"] = state["scheduler_"].state_dict()
        state["scheduler_"] = None
        return state


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
