"""Perturbation learning as one classifier: f, the adversarial data, and g."""

import os

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data

from ._validation import FLOAT_DTYPES
from .classifier import WideTwoLayerNetClassifier
from .transformer import AdversarialPerturbationTransformer

_ATTACK_PARAMETERS = (
    "epsilon",
    "norm",
    "steps",
    "step_size",
    "targets",
    "base",
    "clip",
    "batch_size",
)
_MAX_SEED = np.iinfo(np.int32).max


def _fit_source(estimator, X, y):
    # Module level so that joblib.Memory can cache it: the key is the
    # (unfitted, seeded) estimator and the data, which a grid over the attack
    # parameters leaves unchanged.
    return estimator.fit(X, y)


def _reseed(estimator, rng):
    """Give every ``random_state`` of ``estimator`` (nested too) a seed from ``rng``."""
    keys = sorted(
        key
        for key in estimator.get_params(deep=True)
        if key == "random_state" or key.endswith("__random_state")
    )
    return estimator.set_params(**{key: rng.randint(_MAX_SEED) for key in keys})


def _student_has(attribute):
    """Whether g (fitted, or else the one that would be fitted) has ``attribute``."""

    def check(self):
        if hasattr(self, "estimator_"):
            student = self.estimator_
        elif self.student is not None:
            student = self.student
        elif self.estimator is not None:
            student = self.estimator
        else:
            student = WideTwoLayerNetClassifier()
        getattr(student, attribute)
        return True

    return check


class PerturbationLearningClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Learn a classifier from adversarial perturbations alone.

    The procedure of Kumano et al. (NeurIPS 2024): ``fit``

    1. trains f, a clone of ``estimator``, on the clean data ``(X, y)``;
    2. draws a target label for every sample (``targets``) and builds the
       targeted adversarial example that pushes f towards it (``epsilon``,
       ``norm``, ``steps``, ``base``);
    3. trains g, a clone of ``student`` (of ``estimator`` when None), on the
       adversarial examples and their target labels only.

    To a human these labels look wrong, yet g classifies clean data and agrees
    with f. ``predict``, ``predict_proba``, ``decision_function`` and ``score``
    come from g; compare it with f (``source_estimator_``) through
    :func:`~sklearn_pertlearn.metrics.agreement_scorer`.

    Read more in the :ref:`User Guide <perturbation_learning>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier f, exposing its fitted torch network as ``module_``;
        ``None`` means :class:`WideTwoLayerNetClassifier()`.

    student : estimator object, default=None
        Classifier g; ``None`` means a clone of ``estimator``.

    epsilon : float, default=0.1
        Radius of the perturbation, at least 0. 0 in scenario a (``base="none"``)
        shows g nothing but zero vectors: a control that must give chance.

    norm : {"l2", "linf"}, default="l2"
        Norm of the perturbation ball; ``"l2"`` with one step is the paper's.

    steps : int, default=1
        Number of gradient steps; more than 1 is projected gradient descent.

    step_size : float, default=None
        Length of each step; ``None`` means ``2.5 * epsilon / steps``.

    targets : {"balanced", "random", "random_other", "shift"}, \
            default="balanced"
        How target labels are drawn, see
        :func:`~sklearn_pertlearn.perturbation.make_targets`. ``"random"`` is
        the authors' choice; ``"balanced"`` avoids the chance-level students
        that an unlucky imbalance of random targets can cause.

    base : {"none", "data", "uniform"}, default="none"
        What the perturbation is put on: nothing (scenario a), the data
        (scenario b) or uniform noise from the ``clip`` range.

    clip : tuple of (float, float), default=None
        Range that perturbed points are clipped to; ``None`` does not clip.

    batch_size : int, default=8192
        Number of rows attacked at once; bounds the memory used.

    memory : str, path-like or joblib.Memory, default=None
        Caches the fit of f, so that a search over the attack parameters or the
        student fits f once per split. ``None`` does not cache. Caching needs
        an int ``random_state``, which fixes f's seed.

    store_adversarial : bool, default=False
        Keep the adversarial data set as ``X_adv_`` and ``y_adv_``.

    random_state : int, RandomState instance or None, default=None
        Draws the seeds of f and g (overriding any ``random_state`` they were
        given, so that g starts from an initialisation independent of f's, as
        in the authors' experiments), the target labels and the uniform noise.
        Pass an int for bit-for-bit repeatable fits on the CPU.

    Attributes
    ----------
    source_estimator_ : estimator object
        f, fitted on the clean data.

    estimator_ : estimator object
        g, fitted on the adversarial data; predictions come from it.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    X_adv_ : ndarray of shape (n_samples, n_features)
        Adversarial examples g was trained on; only with
        ``store_adversarial=True``.

    y_adv_ : ndarray of shape (n_samples,)
        Their target labels; only with ``store_adversarial=True``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    AdversarialPerturbationTransformer : The attack alone, as a transformer and
        sampler.
    sklearn_pertlearn.metrics.agreement_scorer : Agreement of f and g, as a
        scorer.

    References
    ----------
    S. Kumano, H. Kera and T. Yamasaki, "Wide Two-Layer Networks can Learn
    from Adversarial Perturbations", NeurIPS 2024.

    Examples
    --------
    >>> from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
    >>> from sklearn_pertlearn.datasets import make_shifted_gaussian
    >>> from sklearn_pertlearn.perturbation_learning import (
    ...     PerturbationLearningClassifier)
    >>> X, y = make_shifted_gaussian(200, 50, random_state=0)
    >>> net = WideTwoLayerNetClassifier(
    ...     hidden_dim=100, loss="identity", lr=1.0, max_epochs=50, random_state=0)
    >>> clf = PerturbationLearningClassifier(net, epsilon=0.01, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "student": [HasMethods(["fit", "predict"]), None],
        **{
            name: AdversarialPerturbationTransformer._parameter_constraints[name]
            for name in _ATTACK_PARAMETERS
        },
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "store_adversarial": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        student=None,
        *,
        epsilon=0.1,
        norm="l2",
        steps=1,
        step_size=None,
        targets="balanced",
        base="none",
        clip=None,
        batch_size=8192,
        memory=None,
        store_adversarial=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.student = student
        self.epsilon = epsilon
        self.norm = norm
        self.steps = steps
        self.step_size = step_size
        self.targets = targets
        self.base = base
        self.clip = clip
        self.batch_size = batch_size
        self.memory = memory
        self.store_adversarial = store_adversarial
        self.random_state = random_state

    @_fit_context(
        # estimator and student are validated when they are fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Train f on ``(X, y)``, attack it, and train g on the attack alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean training data.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        rng = check_random_state(self.random_state)
        estimator = WideTwoLayerNetClassifier() if self.estimator is None else self.estimator
        source = _reseed(clone(estimator), rng)
        student = _reseed(clone(estimator if self.student is None else self.student), rng)
        attack_seed = rng.randint(_MAX_SEED)

        # check_memory takes a str, not a path object.
        memory = os.fspath(self.memory) if isinstance(self.memory, os.PathLike) else self.memory
        fit_source = check_memory(memory).cache(_fit_source)
        self.source_estimator_ = fit_source(source, X, y)
        attack = AdversarialPerturbationTransformer(
            self.source_estimator_,
            prefit=True,
            random_state=attack_seed,
            **{name: getattr(self, name) for name in _ATTACK_PARAMETERS},
        )
        X_adv, y_adv = attack.fit_resample(X, y)
        self.classes_ = attack.classes_
        drawn = np.unique(y_adv)
        if len(drawn) < len(self.classes_):
            raise ValueError(
                f"The target labels drew only the classes {drawn.tolist()} of "
                f"{self.classes_.tolist()}, so g could not learn the others; use "
                "targets='balanced' or more samples."
            )
        self.estimator_ = student.fit(X_adv, y_adv)
        if self.store_adversarial:
            self.X_adv_, self.y_adv_ = X_adv, y_adv
        return self

    def _validate_for_student(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)

    def predict(self, X):
        """Predict classes with g.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        X = self._validate_for_student(X)
        return self.estimator_.predict(X)

    @available_if(_student_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of g.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        X = self._validate_for_student(X)
        return self.estimator_.predict_proba(X)

    @available_if(_student_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of g.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        X = self._validate_for_student(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_student_has("decision_function"))
    def decision_function(self, X):
        """Decision function of g: the margins g(x) for two classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        decision : ndarray of shape (n_samples,) or (n_samples, n_classes)
            g's margins (two classes) or scores.
        """
        X = self._validate_for_student(X)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
