"""The paper's wide two-layer network as a scikit-learn classifier."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._network import LOSSES, MarginLoss, TwoLayerNetwork
from ._skorch import SGD, ClosedFormNet, EpochProgressBar, PlateauScheduler, TensorBatches
from ._threads import classifier_step_work, classifier_work, limit_threads
from ._validation import check_device

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_SEED_BOUND = np.iinfo(np.int32).max


class WideTwoLayerNetClassifier(ClassifierMixin, BaseEstimator):
    """Wide two-layer network classifier, trained as in the paper.

    The network is ``f(x) = sum_k a_k sigma(w_k . x + b_k)`` with a leaky ReLU
    ``sigma`` of slope ``slope``, initialised with ``w_k ~ N(0, I_d / d)``,
    ``b_k ~ N(0, 1)`` and a fixed readout ``a_k ~ N(0, 1 / m)``. Only ``w``
    and ``b`` are trained. With two classes, ``classes_[0]`` is the label -1 and
    ``classes_[1]`` the label +1 and the prediction is the sign of ``f``; with
    K classes the readout has K columns and the prediction is the argmax.

    By default training is the authors' algorithm: every epoch one step of SGD
    with momentum on the whole training set, then ``ReduceLROnPlateau`` on that
    epoch's training loss. The fitted network is a :class:`skorch.NeuralNet`
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

    lr : float, default=0.1
        Learning rate of SGD.

    max_epochs : int, default=200
        Number of epochs (as ``max_iter`` of scikit-learn's ``MLPClassifier``;
        the paper trains 1000 on synthetic data and 100 on MNIST). 0 fits
        nothing and keeps the initial weights.

    momentum : float, default=0.9
        Momentum of SGD.

    batch_size : int or None, default=None
        Rows per gradient step; None trains full batch (one step per epoch), as
        the paper does. Mini-batches are reshuffled every epoch from
        ``random_state``.

    lr_scheduler : {"plateau"} or None, default="plateau"
        ``"plateau"`` steps :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`
        (PyTorch's defaults: factor 0.1, patience 10) on every epoch's training
        loss, as the authors ran it; None keeps the learning rate constant.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the per-sample losses, as in scikit-learn.
        The unbounded identity loss lets the bias absorb label imbalance;
        ``"balanced"`` counters it.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the weights and computations. Inputs of either
        type are accepted and converted.

    device : str, default="cpu"
        Torch device to train and predict on: ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``. Results are always numpy arrays, and a model fitted on a
        GPU loads on a machine without one.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the mini-batch order. An int makes fits on
        the CPU bit-for-bit repeatable. The global random state of numpy and
        torch is never touched.

    verbose : int, default=0
        1 or more shows a progress bar over epochs with the training loss.

    warm_start : bool, default=False
        When true, ``fit`` continues from the weights of the previous fit instead
        of starting from the initial weights.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    net_ : ClosedFormNet
        The fitted :class:`skorch.NeuralNet`; ``net_.history`` holds the
        training loss of every epoch.

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
    """

    _parameter_constraints = {
        "hidden_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "slope": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_scheduler": [StrOptions({"plateau"}), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "dtype": [StrOptions(set(_DTYPES))],
        "device": [str, torch.device],
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
        lr=0.1,
        max_epochs=200,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        class_weight=None,
        dtype="float32",
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_dim = hidden_dim
        self.slope = slope
        self.loss = loss
        self.lr = lr
        self.max_epochs = max_epochs
        self.momentum = momentum
        self.batch_size = batch_size
        self.lr_scheduler = lr_scheduler
        self.class_weight = class_weight
        self.dtype = dtype
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
    def fit(self, X, y):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : WideTwoLayerNetClassifier
            The fitted classifier.
        """
        keep = self.warm_start and hasattr(self, "net_")
        X, y = validate_data(self, X, y, reset=not keep, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if keep and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs the classes of the previous fit "
                f"{self.classes_.tolist()}, got {classes.tolist()}."
            )
        self.classes_ = classes
        self._check_n_classes()
        if not keep:
            self._initialize_net(y_index)
        self._run_epochs(X, y_index, self.max_epochs)
        return self

    @limit_threads(classifier_step_work)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
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

        Returns
        -------
        self : WideTwoLayerNetClassifier
            The updated classifier.
        """
        first_call = not hasattr(self, "net_")
        X, y = validate_data(self, X, y, reset=first_call, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(classes)
            self._check_n_classes()
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the classes of "
                f"the previous calls {self.classes_.tolist()}."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in "
                f"classes_={self.classes_.tolist()}."
            )
        y_index = np.searchsorted(self.classes_, y)
        if first_call:
            self._initialize_net(y_index)
        self._run_epochs(X, y_index, 1)
        return self

    def _check_n_classes(self):
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )

    def _initialize_net(self, y_index):
        """Build ``net_`` with freshly initialised weights."""
        device = check_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed = rng.randint(_SEED_BOUND, size=2)
        n_classes = len(self.classes_)
        dtype = _DTYPES[self.dtype]
        class_weight = None
        if self.class_weight is not None:
            class_weight = torch.as_tensor(
                compute_class_weight(
                    self.class_weight, classes=np.arange(n_classes), y=y_index
                )
                if self.class_weight == "balanced"
                else self._class_weight_from_dict(),
                dtype=dtype,
            )
        callbacks = []
        if self.lr_scheduler == "plateau":
            callbacks.append(("lr_scheduler", PlateauScheduler()))
        if self.verbose:
            callbacks.append(("progress_bar", EpochProgressBar()))
        self.net_ = ClosedFormNet(
            module=TwoLayerNetwork,
            module__n_features=self.n_features_in_,
            module__hidden_dim=self.hidden_dim,
            module__n_outputs=1 if n_classes == 2 else n_classes,
            module__slope=self.slope,
            module__seed=int(init_seed),
            module__dtype=dtype,
            criterion=MarginLoss,
            criterion__loss=self.loss,
            criterion__class_weight=class_weight,
            optimizer=SGD,
            optimizer__momentum=self.momentum,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=-1 if self.batch_size is None else self.batch_size,
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__seed=int(shuffle_seed),
            iterator_valid=TensorBatches,
            train_split=None,
            callbacks=callbacks,
            device=str(device),
            verbose=0,
        ).initialize()

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
        # torch cannot wrap read-only arrays (memory maps, joblib's shared
        # inputs) without a warning; those are copied, others shared.
        X = np.require(X, dtype=_NUMPY_DTYPES[weight.dtype], requirements="W")
        return torch.from_numpy(X).to(weight.device)

    def _run_epochs(self, X, y_index, n_epochs):
        net = self.net_
        # A new shuffling seed per call, so that successive partial_fit calls
        # do not replay the same mini-batch order.
        # (Plain attributes: skorch's set_params would re-initialise the module.)
        net.iterator_train__seed = (net.iterator_train__seed + len(net.history)) % _SEED_BOUND
        net.max_epochs = n_epochs
        y_tensor = torch.as_tensor(y_index, dtype=torch.long, device=net.module_.weight.device)
        net.partial_fit(self._to_tensor(X), y_tensor)

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
        """
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        with torch.no_grad():
            return self.net_.forward(self._to_tensor(X)).numpy()

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
        # float64 keeps large margins from rounding to exactly 0 or 1, which
        # would break the ranking agreement with decision_function.
        decision = torch.from_numpy(self.decision_function(X).astype(np.float64))
        if decision.dim() == 1:
            positive = torch.sigmoid(decision)
            return torch.stack([torch.sigmoid(-decision), positive], dim=1).numpy()
        return torch.softmax(decision, dim=1).numpy()

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
        """
        decision = self.decision_function(X)
        if decision.ndim == 1:
            return self.classes_[(decision > 0).astype(int)]
        return self.classes_[decision.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.device != "cpu"
        return tags
