"""The targeted attack as a scikit-learn transformer and imbalanced-learn sampler."""

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet

from ._constraints import ATTACK, BASE, EPSILON, TARGETS
from .classifier import default_network
from .perturbation import (
    _adversarial_examples,
    _check_clip,
    _class_index,
    _perturb,
    make_targets,
    module_outputs,
    resolve_epsilon,
)
from ._validation import FLOAT_DTYPES, check_n_features


def _input_for(network, X, feature_names):
    """``X`` as ``network`` is fitted on and given: a data frame with ``feature_names``.

    Validation turns a data frame into an array, but a network fitted on the
    frame, as the data came, warns when it is then given the array. A skorch
    net reads a frame as its columns, the keyword arguments of its module's
    forward, so it gets the array; so does any network when
    ``feature_names`` is None.
    """
    if feature_names is None or isinstance(network, NeuralNet):
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=feature_names, copy=False)


class _NestedDefaultsMixin:
    """Nested parameters of a default that is left as None, for ``set_params``.

    ``estimator=None`` stands for a network built in ``fit``, so scikit-learn's
    ``set_params`` has no object to hand ``estimator__hidden_dim`` to. Here
    such a key first stores that default, as ``fit`` would have built it, so
    that a grid can search it. An estimator instance as the default of
    ``__init__`` would do it too, but scikit-learn's checks refuse one: a
    mutable default shared by every instance. Subclasses map each such
    parameter to the factory of its default in ``_nested_defaults``.
    """

    def set_params(self, **params):
        for name, default in self._nested_defaults.items():
            nested = any(key.startswith(f"{name}__") for key in params)
            if nested and name not in params and getattr(self, name) is None:
                setattr(self, name, default())
        return super().set_params(**params)

    def _or_default(self, name):
        """The parameter ``name``, or the default it stands for when it is None."""
        value = getattr(self, name)
        return self._nested_defaults[name]() if value is None else value


def _check_contract(estimator, X):
    """Raise unless ``estimator`` is a network the attack can read, as the class docs say.

    A fitted torch module as ``module_`` whose output column i is the score
    of ``classes_[i]``, or one output (a margin, positive for ``classes_[1]``)
    for two classes. The width of the output is checked; the order of the
    columns cannot be, so it is stated.
    """
    name = type(estimator).__name__
    if not isinstance(getattr(estimator, "module_", None), torch.nn.Module):
        raise ValueError(
            "estimator must expose its fitted torch network as module_ (as "
            f"WideTwoLayerNetClassifier and skorch's NeuralNetClassifier do); {name} "
            "does not."
        )
    classes = np.asarray(estimator.classes_)
    n_outputs = module_outputs(estimator.module_, X)
    allowed = (1, 2) if len(classes) == 2 else (len(classes),)
    if n_outputs not in allowed:
        raise ValueError(
            f"{name}'s module_ returns {n_outputs} output(s) per row, but the estimator "
            f"has {len(classes)} classes {classes.tolist()}: the attack reads output "
            "column i as the score of classes_[i], so the module needs one output per "
            "class in the order of classes_ (or one margin for two classes). With "
            "skorch, build the module with len(classes_) outputs and train it on the "
            "labels encoded as 0 .. K-1 (sklearn.preprocessing.LabelEncoder)."
        )


class AdversarialPerturbationTransformer(
    OneToOneFeatureMixin, TransformerMixin, MetaEstimatorMixin, _NestedDefaultsMixin, BaseEstimator
):
    """Targeted adversarial examples of a fitted network, as a transformer.

    ``fit(X, y)`` trains a clone of ``estimator`` (the network f) on clean data,
    or takes ``estimator`` as it is with ``prefit=True``. Then:

    - ``fit_resample(X, y)`` returns the adversarial data set
      ``(X_adv, y_adv)`` of perturbation learning: a target label for every
      sample, drawn by ``targets``, and the example that pushes f towards it.
      This is imbalanced-learn's sampler contract; for a step of an
      :class:`imblearn.pipeline.Pipeline`, which must not also transform,
      wrap it in :class:`AdversarialPerturbationSampler`;
    - ``transform(X)`` returns adversarial examples of ``X`` for targets drawn
      the same way (strategies that depend on the label use f's predictions);
    - ``perturb(X, y_target)`` returns the perturbations ``r`` alone.

    Read more in the :ref:`User Guide <perturbation_learning>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier that exposes its fitted torch network as ``module_``;
        ``None`` means :func:`~sklearn_pertlearn.classifier.default_network`,
        the network of :class:`PerturbationLearningClassifier` too. Its
        parameters can be set as ``estimator__hidden_dim`` and so on, in
        ``set_params`` or a grid, which then stores that network here.

    epsilon : float or "auto", default="auto"
        Radius of the perturbation, at least 0, in the units of ``X``. With
        ``norm="l2"`` and ``steps=1`` every perturbation is exactly this long.
        ``"auto"`` scales it to the data given to ``fit``: a fraction of the
        median norm of their rows in ``norm`` (the L2 norm, or the largest
        absolute value for ``"linf"``): 0.3 times it for ``base="none"``,
        2 times it for ``"data"`` and ``"uniform"``, where the perturbation
        must outweigh the point it is added to. The value used is
        ``epsilon_``.

    norm : {"l2", "linf"}, default="l2"
        Norm of the perturbation ball; ``"l2"`` with one step is the paper's
        perturbation.

    steps : int, default=1
        Number of gradient steps; more than 1 is projected gradient descent.

    step_size : float, default=None
        Length of each step; ``None`` means ``2.5 * epsilon / steps``.

    targets : {"balanced", "random", "random_other", "shift"}, \
            default="balanced"
        How target labels are drawn, see
        :func:`~sklearn_pertlearn.perturbation.make_targets`. ``"balanced"``
        draws every class equally often; ``"random"`` is the authors' choice.

    base : {"none", "data", "uniform"}, default="none"
        What the perturbation is put on: nothing (the paper's scenario a,
        ``x_adv = r(x)``), the data (scenario b, ``x_adv = x + r(x)``), or
        uniform noise ``u`` from the ``clip`` range (``x_adv = u + r(u)``).

    clip : tuple of (float, float), default=None
        Range ``(low, high)`` that perturbed points are clipped to, e.g.
        ``(0, 1)`` for images; ``None`` does not clip.

    batch_size : int, default=8192
        Number of rows attacked at once; bounds the memory used.

    prefit : bool, default=False
        Whether ``estimator`` is already fitted; it is then used as it is and
        not cloned.

    random_state : int, RandomState instance or None, default=None
        Draws the target labels and the uniform noise. Pass an int for the same
        output across calls.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted network f that is attacked.

    classes_ : ndarray of shape (n_classes,)
        Class labels of ``estimator_``.

    epsilon_ : float
        The radius used: ``epsilon``, or what ``"auto"`` made of it.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    AdversarialPerturbationSampler : The attack as a step of an
        imbalanced-learn pipeline.
    PerturbationLearningClassifier : The whole procedure: f, the adversarial
        data and the student g in one classifier.
    sklearn_pertlearn.perturbation.targeted_perturbation : The attack on a
        torch module.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
    >>> from sklearn_pertlearn.transformer import AdversarialPerturbationTransformer
    >>> from sklearn_pertlearn.datasets import make_shifted_gaussian
    >>> X, y = make_shifted_gaussian(100, 10, random_state=0)
    >>> net = WideTwoLayerNetClassifier(
    ...     hidden_dim=50, loss="identity", solver="sgd", lr=0.1, max_epochs=10, random_state=0)
    >>> attack = AdversarialPerturbationTransformer(net, epsilon=0.5, random_state=0)
    >>> X_adv, y_adv = attack.fit_resample(X, y)
    >>> np.linalg.norm(X_adv, axis=1).round(3)[:3]
    array([0.5, 0.5, 0.5], dtype=float32)
    >>> np.bincount(y_adv + 1)[[0, 2]]
    array([50, 50])
    """

    _nested_defaults = {"estimator": default_network}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        **ATTACK,
        "epsilon": [*EPSILON, StrOptions({"auto"})],
        "targets": TARGETS,
        "base": BASE,
        "prefit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        epsilon="auto",
        norm="l2",
        steps=1,
        step_size=None,
        targets="balanced",
        base="none",
        clip=None,
        batch_size=8192,
        prefit=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.epsilon = epsilon
        self.norm = norm
        self.steps = steps
        self.step_size = step_size
        self.targets = targets
        self.base = base
        self.clip = clip
        self.batch_size = batch_size
        self.prefit = prefit
        self.random_state = random_state

    def _fit(self, X, y):
        """Fit (or take) the network; return the validated ``X`` and ``y``."""
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, order="C", accept_sparse="csr")
        check_classification_targets(y)
        _check_clip(self.clip)
        if self.prefit:
            if self.estimator is None:
                raise ValueError("prefit=True needs a fitted estimator, got None.")
            check_is_fitted(self.estimator)
            check_n_features(
                X, getattr(self.estimator, "n_features_in_", X.shape[1]), name="X",
                reference=f"the prefit estimator {type(self.estimator).__name__} was fitted on",
            )
            self.estimator_ = self.estimator
        else:
            network = clone(self._or_default("estimator"))
            self.estimator_ = network.fit(self._input_for(network, X), y)
        self.classes_ = self.estimator_.classes_
        _check_contract(self.estimator_, X)
        self.epsilon_ = resolve_epsilon(self.epsilon, X, self.norm, self.base)
        return X, y

    def _input_for(self, network, X):
        """``X`` as the network ``network`` takes it, with this transformer's feature names."""
        return _input_for(network, X, getattr(self, "feature_names_in_", None))

    def _attack_kwargs(self):
        return dict(
            epsilon=self.epsilon_,
            norm=self.norm,
            steps=self.steps,
            step_size=self.step_size,
            clip=_check_clip(self.clip),
            batch_size=self.batch_size,
        )

    def _resample(self, X, y):
        rng = check_random_state(self.random_state)
        y_target = make_targets(y, self.classes_, strategy=self.targets, random_state=rng)
        X_adv = _adversarial_examples(
            self.estimator_.module_,
            X,
            _class_index(y_target, self.classes_, "y_target"),
            base=self.base,
            random_state=rng,
            **self._attack_kwargs(),
        )
        return X_adv, y_target

    @_fit_context(
        # estimator is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit the network f to be attacked (or take it, with ``prefit=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y):
        """Fit f, then return the adversarial data set for drawn targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels; the ``"random_other"`` and ``"shift"`` targets are
            drawn from them.

        Returns
        -------
        X_adv : ndarray of shape (n_samples, n_features)
            Adversarial examples, as ``base`` builds them.
        y_adv : ndarray of shape (n_samples,)
            Their target labels.
        """
        return self._resample(*self._fit(X, y))

    def transform(self, X):
        """Return adversarial examples of ``X`` for drawn target labels.

        The ``"random_other"`` and ``"shift"`` targets are drawn from f's
        predictions, since ``transform`` has no labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to attack.

        Returns
        -------
        X_adv : ndarray of shape (n_samples, n_features)
            Adversarial examples, as ``base`` builds them.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=FLOAT_DTYPES, order="C", accept_sparse="csr"
        )
        return self._resample(X, self.estimator_.predict(self._input_for(self.estimator_, X)))[0]

    def perturb(self, X, y_target):
        """Return the perturbations ``r`` that push f towards ``y_target``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to attack.
        y_target : array-like of shape (n_samples,)
            Target labels, each one of ``classes_``.

        Returns
        -------
        perturbation : ndarray of shape (n_samples, n_features)
            The perturbations ``r``, without any base added.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=FLOAT_DTYPES, order="C", accept_sparse="csr"
        )
        y_target = np.asarray(y_target)
        if y_target.shape != (X.shape[0],):
            raise ValueError(
                f"y_target must have shape ({X.shape[0]},) to match X, got "
                f"{y_target.shape}."
            )
        return _perturb(
            self.estimator_.module_,
            X,
            _class_index(y_target, self.classes_, "y_target"),
            **self._attack_kwargs(),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        return tags


class AdversarialPerturbationSampler(MetaEstimatorMixin, _NestedDefaultsMixin, BaseEstimator):
    """The attack as an imbalanced-learn sampler, for :class:`imblearn.pipeline.Pipeline`.

    imbalanced-learn refuses a pipeline step that has both ``transform`` and
    ``fit_resample``, as :class:`AdversarialPerturbationTransformer` has. This
    sampler offers ``fit_resample`` alone: in an imbalanced-learn pipeline the
    next step is then trained on the adversarial data set only, while
    prediction goes straight to it, which is perturbation learning as a
    pipeline.

    Parameters
    ----------
    transformer : AdversarialPerturbationTransformer, default=None
        The attack, cloned at every fit; ``None`` means
        ``AdversarialPerturbationTransformer()``. Its parameters are reached
        as ``transformer__epsilon`` and so on, e.g. in ``GridSearchCV``, with
        ``None`` too.

    Attributes
    ----------
    transformer_ : AdversarialPerturbationTransformer
        The fitted attack; its ``estimator_`` is the network f.

    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    AdversarialPerturbationTransformer : The attack, as a transformer.
    PerturbationLearningClassifier : The whole procedure in one classifier.

    Examples
    --------
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn_pertlearn import (
    ...     AdversarialPerturbationSampler, AdversarialPerturbationTransformer,
    ...     WideTwoLayerNetClassifier)
    >>> from sklearn_pertlearn.datasets import make_shifted_gaussian
    >>> X, y = make_shifted_gaussian(200, 100, random_state=0)
    >>> X_test, y_test = make_shifted_gaussian(200, 100, random_state=1)
    >>> net = WideTwoLayerNetClassifier(
    ...     50, loss="identity", solver="sgd", lr=1.0, max_epochs=50, random_state=0)
    >>> sampler = AdversarialPerturbationSampler(
    ...     AdversarialPerturbationTransformer(net, epsilon=0.01, random_state=0))
    >>> pipeline = make_pipeline(sampler, net).fit(X, y)
    >>> # The student saw nothing but perturbations of length 0.01:
    >>> bool(pipeline.score(X_test, y_test) >= 0.95)
    True
    """

    _nested_defaults = {"transformer": AdversarialPerturbationTransformer}

    _parameter_constraints = {
        "transformer": [HasMethods(["fit_resample"]), None],
    }

    def __init__(self, transformer=None):
        self.transformer = transformer

    @_fit_context(
        # transformer is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit_resample(self, X, y):
        """Fit the attack, then return the adversarial data set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        X_adv : ndarray of shape (n_samples, n_features)
            Adversarial examples.
        y_adv : ndarray of shape (n_samples,)
            Their target labels.
        """
        self.transformer_ = clone(self._or_default("transformer"))
        resampled = self.transformer_.fit_resample(X, y)
        self.n_features_in_ = self.transformer_.n_features_in_
        if hasattr(self.transformer_, "feature_names_in_"):
            self.feature_names_in_ = self.transformer_.feature_names_in_
        return resampled

    def fit(self, X, y):
        """Fit the attack; the adversarial data set is discarded.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        return tags
