"""skorch's home: the classifier's net, built, trained and read through skorch's API.

The estimator in :mod:`sklearn_pertlearn.classifier` speaks to skorch only
through the functions here: :func:`build_net` makes a
:class:`ClosedFormNet`, :func:`continue_net` carries its weights and history
into a net of new training settings, :func:`train` runs epochs through
skorch's ``set_params`` and ``partial_fit``, and :func:`decision` computes f in
chunks of bounded memory. The net plugs into skorch's own hooks
(``iterator_train`` / ``iterator_valid``, ``get_iterator`` and
``train_step``), so it is an ordinary :class:`skorch.NeuralNet`: history,
callbacks, learning-rate schedulers and cross-device pickling all work as
skorch documents them.

Every computation here runs with the caller's autocast switched off and on
the device of the module's weights, and with the intra-op threads that the
size of its largest product calls for (:mod:`sklearn_pertlearn._threads`).
"""

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from scipy.sparse import issparse
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import Dataset
from skorch.utils import TeeGenerator, noop
from sklearn.model_selection import train_test_split
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ._memory import chunk_rows, row_chunks
from ._network import MarginLoss, TwoLayerNetwork
from ._optim import SGD, Adam, optimizer_step
from ._precision import PRODUCT_DTYPES, own_products, to_product_dtype
from ._threads import thread_limit
from ._validation import SEED_BOUND, to_tensor

#: The optimizers of the classifier's ``solver`` names.
SOLVERS = {"adam": Adam, "sgd": SGD}
#: The floating point types of the classifier's ``dtype`` names.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


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
        self.full_batch_ = None

    def reseed(self, seed):
        """Draw the coming permutations from ``seed``."""
        self.generator.manual_seed(int(seed))

    def __len__(self):
        return -(-_n_rows(self.X) // self.batch_size)

    def __iter__(self):
        n_samples = _n_rows(self.X)
        if self.batch_size >= n_samples:
            if self.full_batch_ is None:
                # Sparse rows become a tensor once, for every epoch of the call.
                self.full_batch_ = _as_tensors(self.X)
            yield self.full_batch_, self.y
            return
        if self.shuffle:
            inputs = self.X["X"] if isinstance(self.X, dict) else self.X
            order = torch.randperm(n_samples, generator=self.generator).to(inputs.device)
        for start in range(0, n_samples, self.batch_size):
            if self.shuffle:
                rows = order[start : start + self.batch_size]
            else:
                rows = slice(start, start + self.batch_size)
            yield _as_tensors(_take(self.X, rows)), _take(self.y, rows)


class SparseRows:
    """Rows of a scipy CSR matrix, taken as :class:`TensorBatches` takes tensors' rows.

    A batch of them becomes a torch sparse CSR tensor on ``device``
    (:meth:`tensor`), whose products with the dense weights torch computes
    without densifying the rows.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        The rows, in the floating point type of the network.
    device : torch.device
        Where their tensors go.
    """

    def __init__(self, matrix, device):
        self.matrix = matrix
        self.device = device

    def __len__(self):
        return self.matrix.shape[0]

    def __getitem__(self, rows):
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        return SparseRows(self.matrix[rows], self.device)

    def tensor(self):
        """The rows as a torch sparse CSR tensor on ``device``."""
        matrix = self.matrix
        with warnings.catch_warnings():
            # torch calls its sparse CSR layout beta; the products used here
            # are tested against the dense ones.
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                torch.from_numpy(matrix.indptr.astype(np.int64)),
                torch.from_numpy(matrix.indices.astype(np.int64)),
                torch.from_numpy(matrix.data),
                size=matrix.shape,
                device=self.device,
                # scipy's CSR structure is valid; checking it would cost a pass.
                check_invariants=False,
            )


def _as_tensors(data):
    """``data`` with :class:`SparseRows` made tensors (in a dict of tensors too)."""
    if isinstance(data, SparseRows):
        return data.tensor()
    if isinstance(data, dict):
        return {key: _as_tensors(value) for key, value in data.items()}
    return data


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
    """``(X, y, sample_weight, class_weight)`` of a batch.

    The weights are per row (``class_weight`` holds the weight of every
    row's class), or None where the fit has none.
    """
    X, y = batch
    if isinstance(X, dict):
        return X["X"], y, X.get("sample_weight"), X.get("class_weight")
    return X, y, None, None


class ClosedFormNet(NeuralNet):
    """A :class:`skorch.NeuralNet` for :class:`TwoLayerNetwork` and :class:`MarginLoss`.

    The training step computes the loss and the gradients of the first layer in
    closed form (two matrix products, no autograd graph) and hands them to the
    optimizer through :func:`~sklearn_pertlearn._optim.optimizer_step`, so any
    optimizer, scheduler and callback behaves as usual. Inputs of a 16-bit
    type (mixed precision) make the two products run in that type; the
    weights, the optimizer's state and the loss stay in the weights' dtype.

    Parameters
    ----------
    shuffle_seed : int, default=0
        Seed of the mini-batch order. Each call of ``fit_loop`` draws its
        order from this seed and the number of epochs already trained, so
        that successive ``partial_fit`` calls do not replay one order.
    alpha : float, default=0.0
        Strength of ``MLPClassifier``'s L2 penalty on the first layer's
        weights: ``alpha / 2 * ||W||^2`` over the rows of the batch joins
        the loss, ``alpha * W`` over those rows its gradient (the biases, as
        MLP's intercepts, are not penalised).
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, shuffle_seed=0, alpha=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.shuffle_seed = shuffle_seed
        self.alpha = alpha

    def __setstate__(self, state):
        # A CUDA device beyond this machine's count cannot be loaded on (torch:
        # "Attempting to deserialize object on CUDA device 1 but
        # torch.cuda.device_count() is 1"); the first GPU takes its place.
        device = torch.device(state["device"])
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.type == "cuda" and count and (device.index or 0) >= count:
            state["device"] = "cuda:0"
        elif device.type == "cpu":
            # torch cannot load storages onto "cpu:0", only onto "cpu".
            state["device"] = "cpu"
        super().__setstate__(state)

    def initialize_callbacks(self):
        super().initialize_callbacks()
        # Only callbacks that act on the gradients make the step hand them
        # over; the others would cost the notification every step.
        self.grad_callbacks_ = any(
            type(callback).on_grad_computed is not Callback.on_grad_computed
            for _, callback in self.callbacks_
        )
        return self

    def get_default_callbacks(self):
        # Only the epoch's training loss, which the LR scheduler monitors:
        # skorch's other defaults (epoch timer, validation loss, print log) cost
        # time every epoch for numbers nobody reads here.
        return [("train_loss", EpochTrainLoss())]

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if training and isinstance(iterator, TensorBatches):
            iterator.reseed((self.shuffle_seed + len(self.history)) % SEED_BOUND)
        return iterator

    def train_step(self, batch, **fit_params):
        X, y, sample_weight, class_weight = unpack_batch(batch)
        module, criterion = self.module_, self.criterion_
        with torch.no_grad():
            preactivation = module.preactivation(X)
            if criterion.is_linear:
                # The gradient of a linear loss does not depend on f, and the
                # loss itself comes from the parameter gradients below: f is
                # not computed at all.
                output = None
                grad_output = criterion.output_gradient(
                    y, module.n_outputs, module.weight.dtype, sample_weight, class_weight
                )
            else:
                output = module.output(preactivation)
                loss, grad_output = criterion.loss_and_grad(
                    output, y, sample_weight, class_weight
                )
            params = (module.weight, module.bias)
            grads = module.parameter_gradients(X, preactivation, grad_output)
            if output is None:
                # f is positively homogeneous of degree 1 in every neuron's
                # (w_k, b_k), so a loss linear in f equals <theta, dL/dtheta>.
                loss = (params[0] * grads[0]).sum() + torch.dot(params[1], grads[1])
            if self.alpha:
                rows = y.shape[0]
                loss = loss + 0.5 * self.alpha / rows * params[0].square().sum()
                grads = (grads[0].add(params[0], alpha=self.alpha / rows), grads[1])
            if self.grad_callbacks_:
                # As skorch's own train_step: the gradients in param.grad for
                # the callbacks (which may change them, as gradient clipping
                # does), then the step.
                for param, grad in zip(params, grads):
                    param.grad = grad
                self.notify(
                    "on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch,
                )
                grads = [param.grad for param in params]
            optimizer_step(self.optimizer_, params, grads)
        return {"loss": loss, "y_pred": output}

    def validation_step(self, batch, **fit_params):
        X, y, sample_weight, class_weight = unpack_batch(batch)
        with torch.no_grad():
            output = self.module_(X.to(self.module_.weight.dtype))
            loss = self.criterion_(output, y, sample_weight, class_weight)
        return {"loss": loss, "y_pred": output}


@contextmanager
def _own_numerics(module, work):
    """Run a block on ``module``'s terms: no autograd, the library's own products, sized threads.

    Parameters
    ----------
    module : torch.nn.Module
        Whose device the block computes on.
    work : float
        Multiply-adds of the block's largest matrix product.
    """
    device_type = module.weight.device.type
    with torch.no_grad(), own_products(device_type), thread_limit(work):
        yield


def build_net(
    *,
    n_features,
    hidden_dim,
    n_outputs,
    slope,
    dtype,
    init_seed,
    shuffle_seed,
    loss,
    solver,
    lr,
    momentum,
    batch_size,
    lr_scheduler,
    verbose,
    device,
    tol=None,
    n_iter_no_change=10,
    early_stopping=False,
    validation_fraction=0.1,
    split_seed=0,
    callbacks=None,
    alpha=0.0,
):
    """Return an initialized :class:`ClosedFormNet` of the paper's network.

    Parameters are the classifier's, resolved: ``dtype`` a name of
    :data:`DTYPES`, ``solver`` one of :data:`SOLVERS`, ``lr`` a number,
    ``batch_size`` an int or None (full batch), ``device`` a
    :class:`torch.device`; ``init_seed`` seeds the weights,
    ``shuffle_seed`` the mini-batch order and ``split_seed`` the validation
    split of ``early_stopping``. ``tol`` None trains every epoch asked for,
    unless ``early_stopping`` stops on the validation accuracy.
    ``callbacks`` are the user's skorch callbacks, run after the library's.
    """
    user_callbacks = list(callbacks or [])
    callbacks = []
    if lr_scheduler == "plateau":
        callbacks.append(("lr_scheduler", PlateauScheduler()))
    train_split = None
    if early_stopping:
        train_split = StratifiedRowSplit(validation_fraction, split_seed)
        callbacks.append(("valid_acc", ValidAccuracy()))
    if early_stopping or (tol is not None and loss == "logistic"):
        # scikit-learn's MLPClassifier stops once the monitored value has not
        # improved by tol for more than n_iter_no_change epochs in a row.
        # The identity loss falls without end on separable data: there is
        # no convergence of it to wait for.
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_acc" if early_stopping else "train_loss",
                    lower_is_better=not early_stopping,
                    patience=n_iter_no_change + 1,
                    threshold=tol or 0.0,
                    threshold_mode="abs",
                    load_best=early_stopping,
                    sink=noop,
                ),
            )
        )
    if verbose:
        callbacks.append(("progress_bar", EpochProgressBar()))
    callbacks.extend(user_callbacks)
    return ClosedFormNet(
        module=TwoLayerNetwork,
        module__n_features=n_features,
        module__hidden_dim=hidden_dim,
        module__n_outputs=n_outputs,
        module__slope=slope,
        module__seed=init_seed,
        module__dtype=DTYPES[dtype],
        criterion=MarginLoss,
        criterion__loss=loss,
        optimizer=SOLVERS[solver],
        **({"optimizer__momentum": momentum} if solver == "sgd" else {}),
        lr=lr,
        # TensorBatches trains full batch when there are fewer rows.
        batch_size=-1 if batch_size is None else batch_size,
        iterator_train=TensorBatches,
        iterator_train__shuffle=True,
        iterator_valid=TensorBatches,
        train_split=train_split,
        callbacks=callbacks,
        device=str(device),
        verbose=0,
        shuffle_seed=shuffle_seed,
        alpha=alpha,
    ).initialize()


def continue_net(previous, **settings):
    """A net of new training ``settings`` that goes on from ``previous``.

    It has the weights, the history and the mini-batch seed of
    ``previous``, and a fresh optimizer and scheduler. ``settings`` are
    :func:`build_net`'s; the architecture's must be those of ``previous``.
    """
    # The initial weights are replaced at once, so their seed does not matter.
    net = build_net(
        **settings,
        init_seed=0,
        shuffle_seed=previous.shuffle_seed,
        split_seed=getattr(previous.train_split, "seed", 0),
    )
    net.module_.load_state_dict(previous.module_.state_dict())
    net.history = previous.history
    return net


def train(
    net, X, y_index, *, sample_weight=None, class_weight=None, epochs, precision="32-true", owner
):
    """Train ``net`` for ``epochs`` epochs on ndarrays; return the epochs' training losses.

    Parameters
    ----------
    net : ClosedFormNet
        Initialized; trained in place.
    X : ndarray or scipy CSR matrix of shape (n_samples, n_features)
        Validated training inputs; sparse ones stay sparse (their products
        with the weights are torch's sparse ones).
    y_index : ndarray of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the samples.
    class_weight : ndarray of shape (n_classes,) or None
        Weights of the classes.
    epochs : int
        Number of epochs.
    precision : {"32-true", "bf16-mixed", "16-mixed"}
        Numeric precision of the training products.
    owner : str
        Name of the estimator, for the messages.

    Returns
    -------
    losses : list of float
        Training loss of every epoch of this call.
    X_device : torch.Tensor, SparseRows or None
        ``X`` as it was uploaded to the device of the weights, for
        :func:`decision` to take without uploading it again; None under
        mixed precision, where only the 16-bit copy was kept.
    """
    module = net.module_
    weight = module.weight
    if issparse(X):
        if precision != "32-true":
            raise ValueError(
                f"{owner}(precision={precision!r}) trains on dense X only: torch has no "
                "16-bit sparse products. Use precision='32-true' for sparse X, or pass "
                "X.toarray()."
            )
        inputs = SparseRows(X.astype(_numpy_dtype(weight.dtype)), weight.device)
    else:
        inputs = to_tensor(X, weight.dtype, weight.device)
    X_device = inputs
    if precision != "32-true":
        # Rounded once per call; the training step multiplies in its dtype.
        inputs = to_product_dtype(inputs, PRODUCT_DTYPES[precision], owner, precision)
        X_device = None
    y_tensor = torch.as_tensor(y_index, dtype=torch.long, device=weight.device)
    weights = {}
    if sample_weight is not None:
        weights["sample_weight"] = to_tensor(sample_weight, weight.dtype, weight.device)
    if class_weight is not None:
        weights["class_weight"] = to_tensor(
            np.asarray(class_weight)[y_index], weight.dtype, weight.device
        )
    if weights:
        # skorch's way to hand per-row data to the training step: a dict as
        # X, batched row by row with the inputs.
        inputs = {"X": inputs, **weights}
    rows = len(y_index) if net.batch_size == -1 else min(len(y_index), net.batch_size)
    start = len(net.history)
    with _own_numerics(module, rows * module.n_features * module.hidden_dim):
        # max_epochs through set_params rather than partial_fit's epochs, so
        # that callbacks (the progress bar) know the length of the call.
        net.set_params(max_epochs=epochs).partial_fit(inputs, y_tensor)
    return [epoch["train_loss"] for epoch in net.history[start:]], X_device


def current_lr(net):
    """The learning rate that the next step of ``net`` would take."""
    return net.optimizer_.param_groups[0]["lr"]


def decision(net, X):
    """f on ``X``, as a float ndarray, computed in chunks.

    ``X`` is an ndarray or a scipy CSR matrix, or what :func:`train`
    uploaded (a tensor or :class:`SparseRows` on the weights' device).

    The chunks are the rows whose hidden layer fits in scikit-learn's
    ``working_memory`` (:func:`sklearn.set_config`, 1024 MiB by default),
    and on a CPU in the cache (:data:`~sklearn_pertlearn._memory.CPU_CHUNK_BYTES`),
    so memory grows with those, not with the number of rows. Each chunk goes
    to the device of the module's weights, whatever the current device.
    """
    module = net.module_
    weight = module.weight
    width = module.hidden_dim
    # The pre-activations and the activations of a row, in the weights' dtype.
    row_bytes = 2 * width * weight.element_size()
    device_type = weight.device.type
    n_rows = len(X) if isinstance(X, SparseRows) else X.shape[0]
    chunk = chunk_rows(row_bytes, n_rows, device_type)
    dtype = _numpy_dtype(weight.dtype)
    outputs = np.empty((n_rows,) if module.n_outputs == 1 else (n_rows, module.n_outputs), dtype)
    with _own_numerics(module, chunk * module.n_features * width):
        for rows in row_chunks(n_rows, row_bytes, device_type):
            if isinstance(X, (torch.Tensor, SparseRows)):  # already on the device
                inputs = _as_tensors(X[rows])
            elif issparse(X):
                inputs = SparseRows(X[rows].astype(dtype), weight.device).tensor()
            else:
                inputs = to_tensor(X[rows], weight.dtype, weight.device)
            outputs[rows] = module(inputs).cpu().numpy()
    return outputs


def _numpy_dtype(dtype):
    """The numpy type of the torch floating point type ``dtype``."""
    return torch.empty((), dtype=dtype).numpy().dtype


class StratifiedRowSplit:
    """skorch's ``train_split``: a stratified share of the rows held out for validation.

    As ``MLPClassifier(early_stopping=True)`` splits: ``validation_fraction``
    of the rows, stratified by the labels, drawn from ``seed``. Works on the
    tensors (and dicts of tensors) that :class:`TensorBatches` iterates.
    """

    def __init__(self, validation_fraction, seed):
        self.validation_fraction = validation_fraction
        self.seed = seed

    def __call__(self, dataset, y=None, groups=None):
        labels = dataset.y.cpu().numpy()
        rows = np.arange(len(labels))
        train, valid = train_test_split(
            rows,
            test_size=self.validation_fraction,
            stratify=labels,
            random_state=self.seed,
        )
        parts = (torch.as_tensor(part, device=dataset.y.device) for part in (train, valid))
        return tuple(Dataset(_take(dataset.X, rows), dataset.y[rows]) for rows in parts)


class ValidAccuracy(Callback):
    """Record ``valid_acc``: the (weighted) accuracy on the validation rows of the epoch."""

    def on_epoch_begin(self, net, **kwargs):
        self.correct_, self.total_ = 0.0, 0.0

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if training:
            return
        _, y, sample_weight, _ = unpack_batch(batch)
        predicted = (y_pred > 0).long() if y_pred.dim() == 1 else y_pred.argmax(dim=1)
        hits = (predicted == y).to(y_pred.dtype)
        if sample_weight is None:
            self.correct_ += float(hits.sum())
            self.total_ += len(hits)
        else:
            self.correct_ += float((hits * sample_weight).sum())
            self.total_ += float(sample_weight.sum())

    def on_epoch_end(self, net, **kwargs):
        net.history.record("valid_acc", self.correct_ / max(self.total_, 1e-300))


class EpochTrainLoss(Callback):
    """Record ``train_loss``, the weighted mean of the epoch's batch losses.

    Batches count by their total sample weight, or by their size without
    sample weights. skorch's ``PassthroughScoring`` does the same through
    several history look-ups per epoch; with thousands of one-step epochs
    those dominate. A batch's total weight stays a tensor until the epoch
    needs it, and a full-batch epoch never does: no host sync per batch for
    it, which on a GPU waits for the step.
    """

    def on_batch_end(self, net, batch, training, **kwargs):
        sample_weight = unpack_batch(batch)[2]
        if training and sample_weight is not None:
            self.weights_.append(sample_weight.sum())

    def on_epoch_begin(self, net, **kwargs):
        self.weights_ = []

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        # The validation batches of early stopping are in the list too.
        batches = [batch for batch in epoch["batches"] if "train_loss" in batch]
        if len(batches) == 1:
            loss = batches[0]["train_loss"]
        else:
            if self.weights_:
                sizes = torch.stack(self.weights_).tolist()  # one sync for the epoch
            else:
                sizes = [batch["train_batch_size"] for batch in batches]
            losses = [batch["train_loss"] for batch in batches]
            total = sum(batch_loss * size for batch_loss, size in zip(losses, sizes))
            loss = total / max(sum(sizes), 1e-300)
        epoch["train_loss"] = loss
        self.weights_ = []


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
