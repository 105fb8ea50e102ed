"""The paper's wide two-layer network as a scikit-learn classifier."""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._choices import PRECISIONS
from ._network import LOSSES, MarginLoss, TwoLayerNetwork
from ._precision import product_dtype, to_product_dtype
from ._skorch import (
    SGD,
    Adam,
    ClosedFormNet,
    EpochProgressBar,
    PlateauScheduler,
    TensorBatches,
)
from ._threads import classifier_step_work, classifier_work, limit_threads
from ._validation import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    SEED_BOUND,
    SLOPE_CONSTRAINT,
    check_device,
    to_tensor,
)

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class CollapseWarning(ConvergenceWarning):
    """A fit that predicts a single class on training data of several.

    A :class:`~sklearn.exceptions.ConvergenceWarning`, so that filters of
    those catch it; its own class lets a caller that knows better (the
    student of :class:`PerturbationLearningClassifier`, whose training data
    are tiny perturbations) judge the collapse on other data.
    """


# What a warm start (warm_start=True, partial_fit) does with each parameter.
# The architecture shapes the weights that carry over, so it must stay as it
# was (a change raises); so must n_features_in_ and classes_.
_ARCHITECTURE = ("hidden_dim", "slope", "dtype", "device")
# The training settings take effect at the next call; a change rebuilds the
# optimizer and the scheduler around the current weights. (max_epochs is read
# by every fit; random_state only seeds a new network.)
_OPTIMIZATION = (
    "loss", "solver", "lr", "momentum", "batch_size", "lr_scheduler", "class_weight", "verbose",
    "precision",
)

# What lr="auto" and batch_size="auto" mean for each solver (the tuple's
# batch size None is full batch). Adam's are MLPClassifier's defaults but for
# lr: with its readout fixed at scale 1 / sqrt(m) this network learns more
# slowly than an MLP, and 1e-3 left raw iris and wine at 0.83 after 200
# epochs where 1e-2 reaches MLPClassifier's accuracy (5-fold CV, docs/own_data.rst).
# SGD's are the paper's full-batch algorithm.
_SOLVER_DEFAULTS = {"adam": (0.01, 200), "sgd": (0.1, None)}
_SOLVERS = {"adam": Adam, "sgd": SGD}

# The convergence rules of the class Notes. An epoch's logistic loss above
# _EXPLOSION times the first epoch's is a divergence: good fits measured on
# scikit-learn's real data sets, raw or standardized, peaked at 2.4 times
# (raw digits), failed ones at 130 to 1500 times.
_EXPLOSION = 10.0
# Six cuts by the plateau scheduler's factor 0.1 (a little slack for the
# rounding of the products) mean the loss stalled for at least 60 epochs; no
# good fit measured there had a single cut.
_LR_FLOOR = 1.000001e-6
# ... while, under the logistic loss, the loss stays above this fraction of
# the loss of predicting the class frequencies.
_STALLED = 0.5
_FIX = (
    "scale the inputs (for example with sklearn.preprocessing.StandardScaler) "
    "or lower lr (now {lr})."
)


class WideTwoLayerNetClassifier(ClassifierMixin, BaseEstimator):
    """The paper's wide two-layer network as a classifier.

    The network is ``f(x) = sum_k a_k sigma(w_k . x + b_k)`` with a leaky ReLU
    ``sigma`` of slope ``slope``, initialised with ``w_k ~ N(0, I_d / d)``,
    ``b_k ~ N(0, 1)`` and a fixed readout ``a_k ~ N(0, 1 / m)``. Only ``w``
    and ``b`` are trained. With two classes, ``classes_[0]`` is the label -1 and
    ``classes_[1]`` the label +1 and the prediction is the sign of ``f``; with
    K classes the readout has K columns and the prediction is the argmax.

    By default the first layer is trained as ``MLPClassifier`` trains its
    weights: Adam on mini-batches of 200 rows, which copes with inputs of any
    scale. ``solver="sgd"`` is the authors' algorithm, which the paper's
    theory describes: every epoch one step of SGD with momentum on the whole
    training set, then ``ReduceLROnPlateau`` on that epoch's training loss; it
    needs scaled inputs. The fitted network is a :class:`skorch.NeuralNet`
    (``net_``) whose training step uses the closed-form gradients of this
    network, which makes an epoch two matrix products.

    Parameters
    ----------
    hidden_dim : int, default=100
        Width m of the hidden layer.

    slope : float, default=0.0
        Negative slope gamma of the leaky ReLU, in [0, 1); 0 is the ReLU.

    loss : {"logistic", "identity"}, default="logistic"
        Per-sample loss ``l(-y f(x))`` with ``l(s) = log(1 + e^s)`` or
        ``l(s) = s``. With K classes, ``"logistic"`` is the softmax cross entropy
        and ``"identity"`` is ``-(f_y(x) - mean_k f_k(x))``. The paper's main
        experiments use ``"identity"`` (the presets set it); the default is the
        bounded logistic loss, whose margins stay finite, so that a drop-in
        classifier converges and ``predict_proba`` is meaningful.

    solver : {"adam", "sgd"}, default="adam"
        Optimizer of the first layer. ``"adam"`` is :class:`torch.optim.Adam`
        with PyTorch's defaults (as ``MLPClassifier``'s): its per-weight step
        sizes make training insensitive to the scale of each feature, so raw
        data train about as well as standardized data. ``"sgd"`` is
        :class:`torch.optim.SGD` with ``momentum``, full batch by default: the
        paper's algorithm, whose lazy training the theory describes and which
        perturbation learning's student learns best with (see
        :class:`PerturbationLearningClassifier`); it diverges or collapses on
        unscaled inputs. The paper's presets use it.

    lr : float or "auto", default="auto"
        Learning rate; ``"auto"`` is 0.01 for Adam and 0.1 for SGD.

    max_epochs : int, default=200
        Number of epochs (as ``max_iter`` of scikit-learn's ``MLPClassifier``;
        the paper trains 1000 on synthetic data and 100 on MNIST). 0 fits
        nothing and keeps the initial weights.

    momentum : float, default=0.9
        Momentum of SGD; Adam does not use it.

    batch_size : int, "auto" or None, default="auto"
        Rows per gradient step; None trains full batch (one step per epoch), as
        the paper does. ``"auto"`` is ``min(200, n_samples)`` for Adam (as
        ``MLPClassifier``) and full batch for SGD. Mini-batches are reshuffled
        every epoch from ``random_state``.

    lr_scheduler : {"plateau"} or None, default="plateau"
        ``"plateau"`` steps :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`
        (PyTorch's defaults: factor 0.1, patience 10) on every epoch's training
        loss, as the authors ran it; None keeps the learning rate constant.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the per-sample losses, as in scikit-learn;
        they multiply ``sample_weight``. The unbounded identity loss lets the
        bias absorb label imbalance; ``"balanced"`` (``n_samples / (n_classes
        * bincount(y))``, samples counted by their weights) counters it.
        ``partial_fit`` refuses ``"balanced"``, as scikit-learn's
        ``SGDClassifier`` does: one call's ``y`` cannot estimate it.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the weights and computations. Inputs of either
        type are accepted and converted.

    precision : {"32-true", "bf16-mixed", "16-mixed"}, default="32-true"
        Numeric precision of training, in PyTorch Lightning's names.
        ``"32-true"`` computes everything in ``dtype``. The mixed settings
        run the epoch's two matrix products in bfloat16 (``"bf16-mixed"``) or
        float16 (``"16-mixed"``, the authors' ``precision=16``), with the
        inputs rounded once per fit and the weights at every step, while the
        master weights, the momentum, the loss and the learning-rate schedule
        stay in ``dtype``; predictions and the attacks use ``dtype`` only.
        bfloat16 is fast on CPUs with AVX512-BF16 or AMX (elsewhere it warns
        that it is emulated) and on CUDA devices from Ampere on; float16 needs
        a CUDA device (on a CPU it is a ValueError: torch has no fast float16
        product there). See :ref:`precision` for the speed and the fidelity.

    device : str, default="cpu"
        Torch device to train and predict on: ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``; any other device, or a CUDA device that is not there,
        is a ValueError at fit. Results are always numpy arrays, and a model
        fitted on a GPU loads on a machine without one.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the mini-batch order. An int makes fits on
        the CPU bit-for-bit repeatable. The global random state of numpy and
        torch is never touched.

    verbose : int, default=0
        1 or more shows a progress bar over epochs with the training loss.

    warm_start : bool, default=False
        When true, ``fit`` continues from the weights of the previous fit instead
        of starting from the initial weights, as ``partial_fit`` always does.
        As with ``MLPClassifier``'s warm start, changed training settings
        (``loss``, ``solver``, ``lr``, ``momentum``, ``batch_size``,
        ``lr_scheduler``, ``class_weight``, ``precision``, ``max_epochs``,
        ``verbose``) take effect at the next call, here at the next
        ``partial_fit`` too: while they stay the same, the optimizer's momentum
        and the scheduler's state carry over (two warm fits of 5 epochs equal
        one of 10); a changed one rebuilds the optimizer and the scheduler
        around the current weights.
        The architecture (``hidden_dim``, ``slope``, ``dtype``, ``device``,
        the number of features and the classes) cannot change under weights
        that exist: a warm ``fit`` or ``partial_fit`` after such a change
        raises a ValueError; fit with ``warm_start=False`` to start afresh.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    net_ : ClosedFormNet
        The fitted :class:`skorch.NeuralNet`; ``net_.history`` holds the
        training loss of every epoch.

    n_iter_ : int
        Number of epochs trained, warm starts and ``partial_fit`` calls
        included, as ``MLPClassifier``'s.

    loss_curve_ : list of float
        Training loss of every epoch (the weighted mean over the samples, as
        the loss is minimised), as ``MLPClassifier``'s.

    module_ : TwoLayerNetwork
        The fitted torch module. With two classes ``module_(X)`` returns the
        margins ``f(x)``, shape ``(n,)``; with K classes the logits ``(n, K)``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    PerturbationLearningClassifier : Learns from adversarial examples of this
        network.
    sklearn.neural_network.MLPClassifier : A general multi-layer perceptron.

    Notes
    -----
    Under the identity loss ``predict_proba`` is the sigmoid (softmax) of the
    margin: monotone in the decision function, but not a calibrated
    probability, since that loss has no probabilistic reading.

    A fit that goes wrong says so, in scikit-learn's manner; most often the
    cause is unscaled inputs or too large a learning rate, and every message
    names both fixes:

    - the weights or the loss become NaN or infinite: ``fit`` and
      ``partial_fit`` raise a ValueError (as ``MLPClassifier`` does), and the
      model's ``predict``, ``predict_proba`` and ``decision_function`` raise
      one too rather than return a class;
    - a :class:`~sklearn.exceptions.ConvergenceWarning` ("did not converge")
      when, under the logistic loss, an epoch's training loss exceeds 10
      times the first epoch's (the loss exploded), or when the plateau
      scheduler has cut the learning rate to 1e-6 of ``lr`` or below (six
      cuts, each after 10 epochs without progress; ``ReduceLROnPlateau``
      stops cutting near 1e-8, so this needs ``lr`` of at least 0.01) while,
      under the logistic loss, the loss is still above half the loss of
      predicting the class frequencies (``ln 2`` for two balanced classes):
      a loss that stalls below has converged;
    - a :class:`~sklearn_pertlearn.classifier.CollapseWarning`, a
      ``ConvergenceWarning``, when the fitted network predicts a single class
      on all the training samples of a ``y`` with several.

    ``partial_fit`` checks the first rule only; ``max_epochs=0`` none.

    Sample weights multiply the per-sample losses, together with
    ``class_weight``, and the loss is their weighted mean
    ``sum(w * loss) / sum(w)``: with full-batch training, an integer weight k
    is exactly k copies of the sample and weights of 0 remove it.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_pertlearn import WideTwoLayerNetClassifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = WideTwoLayerNetClassifier(max_epochs=50, random_state=0).fit(X, y)
    >>> clf.decision_function(X[:3]).shape
    (3,)
    >>> float(clf.score(X, y)) > 0.9
    True
    >>> clf.n_iter_, len(clf.loss_curve_)
    (50, 50)
    >>> clf.predict_log_proba(X[:1]).shape
    (1, 2)

    Sample weights, and a warm start that takes a new learning rate:

    >>> weights = (y == 1) + 0.5
    >>> clf = WideTwoLayerNetClassifier(max_epochs=20, warm_start=True, random_state=0)
    >>> clf = clf.fit(X, y, sample_weight=weights)
    >>> clf.set_params(lr=0.01).fit(X, y, sample_weight=weights).n_iter_
    40
    """

    _parameter_constraints = {
        "hidden_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "slope": SLOPE_CONSTRAINT,
        "loss": [StrOptions(set(LOSSES))],
        "solver": [StrOptions(set(_SOLVERS))],
        "lr": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "lr_scheduler": [StrOptions({"plateau"}), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "dtype": [StrOptions(set(_DTYPES))],
        "precision": [StrOptions(set(PRECISIONS))],
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        hidden_dim=100,
        *,
        slope=0.0,
        loss="logistic",
        solver="adam",
        lr="auto",
        max_epochs=200,
        momentum=0.9,
        batch_size="auto",
        lr_scheduler="plateau",
        class_weight=None,
        dtype="float32",
        precision="32-true",
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_dim = hidden_dim
        self.slope = slope
        self.loss = loss
        self.solver = solver
        self.lr = lr
        self.max_epochs = max_epochs
        self.momentum = momentum
        self.batch_size = batch_size
        self.lr_scheduler = lr_scheduler
        self.class_weight = class_weight
        self.dtype = dtype
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    @property
    def module_(self):
        """The fitted torch module (``net_.module_``)."""
        check_is_fitted(self, "net_")
        return self.net_.module_

    @limit_threads(classifier_step_work)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        With ``warm_start=True`` and a previous fit, training continues from
        its weights (see ``warm_start``). A fit that ends diverged or
        collapsed warns with a :class:`~sklearn.exceptions.ConvergenceWarning`
        (see Notes of the class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss, together with
            ``class_weight``. None gives every sample weight 1.

        Returns
        -------
        self : WideTwoLayerNetClassifier
            The fitted classifier.

        Raises
        ------
        ValueError
            If the weights become non-finite during training (diverged).
        """
        keep = self.warm_start and hasattr(self, "net_")
        X, y = validate_data(self, X, y, reset=not keep, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        sample_weight = self._check_sample_weight(sample_weight, X)
        classes, y_index = np.unique(y, return_inverse=True)
        if keep:
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start=True needs the classes of the previous fit "
                    f"{self.classes_.tolist()}, got {classes.tolist()}."
                )
            self._check_architecture("warm_start=True")
        self.classes_ = classes
        self._check_n_classes(y_index, sample_weight)
        self._prepare_net(fresh=not keep)
        class_weight = self._class_weight(y_index, sample_weight)
        losses = self._run_epochs(X, y_index, sample_weight, class_weight, self.max_epochs)
        if losses:
            self._warn_if_not_converged(X, y_index, losses)
        return self

    @limit_threads(classifier_step_work)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch, starting from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, as ``y`` of one call
            need not show every class.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss, together with
            ``class_weight``. None gives every sample weight 1.

        Returns
        -------
        self : WideTwoLayerNetClassifier
            The updated classifier.

        Raises
        ------
        ValueError
            With ``class_weight="balanced"``, which one call's ``y`` cannot
            estimate, and if the weights become non-finite (diverged).
        """
        if self.class_weight == "balanced":
            # The wording of scikit-learn's SGDClassifier.partial_fit.
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order "
                "to use 'balanced' weights, use compute_class_weight('balanced', "
                "classes=classes, y=y). In place of y you can use a large enough "
                "sample of the full training set target to properly estimate the "
                "class frequency distributions. Pass the resulting weights as the "
                "class_weight parameter."
            )
        first_call = not hasattr(self, "net_")
        X, y = validate_data(self, X, y, reset=first_call, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        sample_weight = self._check_sample_weight(sample_weight, X)
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(classes)
            self._check_n_classes()
        else:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={np.unique(classes).tolist()} differs from the classes of "
                    f"the previous calls {self.classes_.tolist()}."
                )
            self._check_architecture("partial_fit")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in "
                f"classes_={self.classes_.tolist()}."
            )
        y_index = np.searchsorted(self.classes_, y)
        self._prepare_net(fresh=first_call)
        class_weight = self._class_weight(y_index, sample_weight)
        self._run_epochs(X, y_index, sample_weight, class_weight, 1)
        return self

    def _check_sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    def _check_n_classes(self, y_index=None, sample_weight=None):
        """At least two classes, and two with positive total weight in ``y_index``."""
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )
        if sample_weight is not None:
            weighted = np.bincount(y_index, sample_weight, len(self.classes_)) > 0
            if weighted.sum() < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes with "
                    f"non-zero sample_weight, but only class "
                    f"{self.classes_[weighted].tolist()[0]!r} has any weight."
                )

    def _check_architecture(self, caller):
        """Raise if a parameter of ``_ARCHITECTURE`` changed since the network was built."""
        changed = {
            name: (value, getattr(self, name))
            for name, value in self._architecture_.items()
            if getattr(self, name) != value
        }
        if changed:
            described = ", ".join(
                f"{name} from {old!r} to {new!r}" for name, (old, new) in changed.items()
            )
            raise ValueError(
                f"{caller} continues the network of the previous fit, but "
                f"{type(self).__name__} changed {described}, which the fitted "
                "weights cannot follow. Fit with warm_start=False to train a new "
                "network, or restore the previous values."
            )

    def _prepare_net(self, fresh):
        """Build ``net_``, or rebuild it from its weights when a training setting changed.

        The optimizer's state (momentum) and the scheduler's carry over from
        one call to the next only while every setting of ``_OPTIMIZATION``
        stays the same.
        """
        settings = {name: getattr(self, name) for name in _OPTIMIZATION}
        if fresh:
            self.net_ = self._build_net()
            self._architecture_ = {name: getattr(self, name) for name in _ARCHITECTURE}
            self.n_iter_ = 0
            self.loss_curve_ = []
        elif settings != self._optimization_:
            self.net_ = self._build_net(previous=self.net_)
        self._optimization_ = settings

    def _build_net(self, previous=None):
        """A new ``net_`` with the current settings.

        Its weights are fresh from ``random_state``, or those of the net
        ``previous`` (whose history it continues) when given.
        """
        device = check_device(self.device)
        self._product_dtype_ = product_dtype(self.precision, device, type(self).__name__)
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed = rng.randint(SEED_BOUND, size=2)
        n_classes = len(self.classes_)
        # TensorBatches trains full batch when there are fewer rows.
        batch_size = self._batch_size()
        callbacks = []
        if self.lr_scheduler == "plateau":
            callbacks.append(("lr_scheduler", PlateauScheduler()))
        if self.verbose:
            callbacks.append(("progress_bar", EpochProgressBar()))
        net = ClosedFormNet(
            module=TwoLayerNetwork,
            module__n_features=self.n_features_in_,
            module__hidden_dim=self.hidden_dim,
            module__n_outputs=1 if n_classes == 2 else n_classes,
            module__slope=self.slope,
            module__seed=int(init_seed),
            module__dtype=_DTYPES[self.dtype],
            criterion=MarginLoss,
            criterion__loss=self.loss,
            optimizer=_SOLVERS[self.solver],
            **({"optimizer__momentum": self.momentum} if self.solver == "sgd" else {}),
            lr=self._lr(),
            max_epochs=self.max_epochs,
            batch_size=-1 if batch_size is None else batch_size,
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__seed=int(shuffle_seed),
            iterator_valid=TensorBatches,
            train_split=None,
            callbacks=callbacks,
            device=str(device),
            verbose=0,
        ).initialize()
        if previous is not None:
            net.module_.load_state_dict(previous.module_.state_dict())
            net.history = previous.history
            net.iterator_train__seed = previous.iterator_train__seed
        return net

    def _lr(self):
        """The learning rate, ``lr`` or the solver's for ``"auto"``."""
        return _SOLVER_DEFAULTS[self.solver][0] if self.lr == "auto" else self.lr

    def _batch_size(self):
        """Rows per step, ``batch_size`` or the solver's for ``"auto"``; None is full batch."""
        return _SOLVER_DEFAULTS[self.solver][1] if self.batch_size == "auto" else self.batch_size

    def _class_weight(self, y_index, sample_weight):
        """The weight of every class, as a tensor for the loss, or None."""
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            # scikit-learn's n_samples / (n_classes * bincount(y)), with the
            # samples counted by their weights; a class without weight has no
            # sample to weigh.
            counts = np.bincount(y_index, sample_weight, n_classes)
            weights = np.divide(
                counts.sum(), n_classes * counts, out=np.zeros(n_classes), where=counts > 0
            )
        else:
            weights = self._class_weight_from_dict()
        module = self.net_.module_
        return torch.as_tensor(weights, dtype=module.weight.dtype, device=module.weight.device)

    def _class_weight_from_dict(self):
        unknown = set(self.class_weight) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(
                f"class_weight has labels {sorted(unknown, key=str)} that are not "
                f"in classes_={self.classes_.tolist()}."
            )
        return [float(self.class_weight.get(label, 1.0)) for label in self.classes_.tolist()]

    def _to_tensor(self, X):
        weight = self.net_.module_.weight
        return to_tensor(X, weight.dtype, weight.device)

    def _run_epochs(self, X, y_index, sample_weight, class_weight, n_epochs):
        """Train ``n_epochs`` epochs; return their training losses."""
        net = self.net_
        # A new shuffling seed per call, so that successive partial_fit calls
        # do not replay the same mini-batch order.
        # (Plain attributes: skorch's set_params would re-initialise the module.)
        net.iterator_train__seed = (net.iterator_train__seed + len(net.history)) % SEED_BOUND
        net.max_epochs = n_epochs
        net.criterion_.class_weight = class_weight
        inputs = self._to_tensor(X)
        if self._product_dtype_ is not None:
            # Rounded once per call; the training step multiplies in its dtype.
            inputs = to_product_dtype(
                inputs, self._product_dtype_, type(self).__name__, self.precision
            )
        if sample_weight is not None:
            # skorch's way to hand sample weights to the training step: a dict
            # as X, batched row by row with the inputs.
            inputs = {"X": inputs, "sample_weight": self._to_tensor(sample_weight)}
        y_tensor = torch.as_tensor(y_index, dtype=torch.long, device=net.module_.weight.device)
        start = len(net.history)
        net.partial_fit(inputs, y_tensor)
        losses = [epoch["train_loss"] for epoch in net.history[start:]]
        self.n_iter_ += len(losses)
        self.loss_curve_.extend(losses)
        self._raise_if_diverged(losses)
        return losses

    def _raise_if_diverged(self, losses):
        module = self.net_.module_
        finite = all(math.isfinite(loss) for loss in losses)
        if finite and torch.isfinite(module.weight).all() and torch.isfinite(module.bias).all():
            return
        epoch = self.n_iter_ - len(losses) + next(
            (k for k, loss in enumerate(losses, 1) if not math.isfinite(loss)), len(losses)
        )
        raise ValueError(
            f"{type(self).__name__}'s training diverged: its loss and weights became "
            f"non-finite (NaN or infinity) by epoch {epoch}, so the fitted network "
            f"predicts nothing. The steps were too large for the scale of the "
            f"inputs: {_FIX.format(lr=self._lr())}"
        )

    def _warn_if_not_converged(self, X, y_index, losses):
        """Warn when a fit ended diverged or collapsed; the rules are in the class Notes."""
        fix = (
            "Most often the inputs are not scaled or lr is too large: "
            + _FIX.format(lr=self._lr())
        )
        symptoms = []
        if self.loss == "logistic" and max(losses) > _EXPLOSION * losses[0]:
            peak = int(np.argmax(losses))
            symptoms.append(
                f"the loss exploded from {losses[0]:.3g} to {losses[peak]:.3g} "
                f"(epoch {self.n_iter_ - len(losses) + peak + 1})"
            )
        final_lr = self.net_.optimizer_.param_groups[0]["lr"]
        stalled = self.lr_scheduler is not None and final_lr <= _LR_FLOOR * self._lr()
        if stalled and self.loss == "logistic":
            # A loss that stalls far below that of predicting the class
            # frequencies is a fit that converged: students of perturbation
            # learning in scenario b, and Adam on raw data, stall at 1e-7 to
            # 0.5 times it with 0.8 to 1.0 training accuracy (measured).
            frequencies = np.bincount(y_index) / len(y_index)
            frequencies = frequencies[frequencies > 0]
            stalled = losses[-1] > _STALLED * -np.sum(frequencies * np.log(frequencies))
        if stalled:
            symptoms.append(
                f"the plateau scheduler cut the learning rate from {self._lr():.3g} to "
                f"{final_lr:.3g} because the loss stopped falling (at {losses[-1]:.3g})"
            )
        if symptoms:
            warnings.warn(
                f"{type(self).__name__} did not converge: {'; '.join(symptoms)}. {fix}",
                ConvergenceWarning,
            )
        predicted = np.unique(self._predict_index(self._to_tensor(X)))
        if len(predicted) == 1 and len(np.unique(y_index)) > 1:
            warnings.warn(
                f"{type(self).__name__} collapsed: it predicts the single class "
                f"{self.classes_.tolist()[predicted[0]]!r} on all {len(y_index)} "
                f"training samples. {fix}",
                CollapseWarning,
            )

    def _decision(self, X_tensor):
        """f on a tensor, as a numpy array; refuses non-finite outputs."""
        with torch.no_grad():
            decision = self.net_.forward(X_tensor).numpy()
        if not np.isfinite(decision).all():
            raise ValueError(
                f"{type(self).__name__}'s outputs are not finite (NaN or infinity), "
                "so no class can be predicted: the fitted weights are not finite "
                "(training diverged) or the inputs are too large for its dtype "
                f"{self.dtype!r}."
            )
        return decision

    def _predict_index(self, X_tensor):
        decision = self._decision(X_tensor)
        if decision.ndim == 1:
            return (decision > 0).astype(int)
        return decision.argmax(axis=1)

    @limit_threads(classifier_work)
    def decision_function(self, X):
        """Return the network's output f(x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        decision : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Margins for two classes (positive means ``classes_[1]``), logits in
            the order of ``classes_`` for more.

        Raises
        ------
        ValueError
            If the outputs are not finite, as after a diverged fit.
        """
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        return self._decision(self._to_tensor(X))

    def _probabilities(self, X, log):
        """Sigmoid or softmax of f(x), or their logarithms, as ndarray."""
        # float64 keeps large margins from rounding to exactly 0 or 1, which
        # would break the ranking agreement with decision_function.
        decision = torch.from_numpy(self.decision_function(X).astype(np.float64))
        if decision.dim() == 1:
            sigmoid = torch.nn.functional.logsigmoid if log else torch.sigmoid
            return torch.stack([sigmoid(-decision), sigmoid(decision)], 1).numpy()
        return (torch.log_softmax if log else torch.softmax)(decision, dim=1).numpy()

    def predict_proba(self, X):
        """Return the sigmoid (two classes) or softmax (K classes) of f(x).

        Under the identity loss these are monotone scores, not calibrated
        probabilities (see Notes of the class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Scores in the order of ``classes_``; each row sums to 1.
        """
        return self._probabilities(X, log=False)

    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`.

        Computed as the log-sigmoid (log-softmax) of f(x), which stays finite
        where the probabilities round to 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-scores in the order of ``classes_``.
        """
        return self._probabilities(X, log=True)

    def predict(self, X):
        """Return the predicted class of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.

        Raises
        ------
        ValueError
            If the outputs are not finite, as after a diverged fit.
        """
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        return self.classes_[self._predict_index(self._to_tensor(X))]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Bit-for-bit repeatable on the CPU only; the device is a name
        # ("cpu", "cpu:0") or a torch.device, validated later in fit.
        tags.non_deterministic = str(self.device).split(":")[0] != "cpu"
        return tags
