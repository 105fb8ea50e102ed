"""Perturbation learning as one classifier: f, the adversarial data, and g."""

import os
import time
import warnings
from contextlib import contextmanager

import numpy as np
from scipy.sparse import issparse
from scipy.special import log_softmax
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_memory,
    has_fit_parameter,
    validate_data,
)

from ._validation import FLOAT_DTYPES, SEED_BOUND
from ._convergence import CollapseWarning
from ._convergence import collapsed as _collapsed
from ._judge import (
    LEARNED,
    RANKING_HOLDS,
    SOURCE_LEARNED,
    chance_corrected_agreement,
    ranking_agreement,
)
from ._offsets import class_rates, offsets_for_rates, response_scores
from .classifier import default_network
from .perturbation import median_row_norm, resolve_epsilon
from .transformer import (
    AdversarialPerturbationTransformer,
    _NestedDefaultsMixin,
    _input_for,
)

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


def _fit_source(estimator, X, y, sample_weight=None):
    # Module level so that joblib.Memory can cache it: the key is the
    # (unfitted, seeded) estimator and the data, which a grid over the attack
    # parameters leaves unchanged.
    return estimator.fit(X, y, **_weights(sample_weight))


def _weights(sample_weight):
    # Estimators without sample_weight are fine as long as none is given.
    return {} if sample_weight is None else {"sample_weight": sample_weight}


@contextmanager
def _in_context(role, ignore=()):
    """Name ``role`` in the warnings and value errors of the fit of f or g.

    ConvergenceWarnings and ValueErrors get ``role`` in front of their
    message; warnings of the categories ``ignore`` are dropped; other
    warnings pass unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except ValueError as exc:
            raise ValueError(f"{role}: {exc}") from exc
    for warning in caught:
        if issubclass(warning.category, ignore):
            continue
        if issubclass(warning.category, ConvergenceWarning):
            warnings.warn(f"{role}: {warning.message}", warning.category, stacklevel=3)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _reseed(estimator, rng):
    """Give every ``random_state`` of ``estimator`` (nested too) a seed from ``rng``."""
    keys = sorted(
        key
        for key in estimator.get_params(deep=True)
        if key == "random_state" or key.endswith("__random_state")
    )
    return estimator.set_params(**{key: rng.randint(SEED_BOUND) for key in keys})


def _student_role(epsilon, norm, base, X, standardized):
    """Who g is, for its warnings and errors, with a hint at ``epsilon``."""
    row_norm = median_row_norm(X, norm)
    rows = "standardized rows" if standardized else "rows"
    return (
        f"The student g (fitted on adversarial examples of epsilon={epsilon:.3g}, "
        f"not on the clean data, whose {rows} have a median {norm} norm of "
        f"{row_norm:.3g}, where epsilon='auto' would take "
        f"{resolve_epsilon('auto', X, norm, base):.3g}: an epsilon far from that "
        f"scale, or 0, can leave g nothing to learn from)"
    )


def _student_has(attribute):
    """Whether g (fitted, or else the one that would be fitted) has ``attribute``."""

    def check(self):
        if hasattr(self, "estimator_"):
            student = self.estimator_
        elif self.student is not None:
            student = self.student
        else:
            student = self._or_default("estimator")
        getattr(student, attribute)
        return True

    return check


class PerturbationLearningClassifier(
    ClassifierMixin, MetaEstimatorMixin, _NestedDefaultsMixin, BaseEstimator
):
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
        ``None`` means ``WideTwoLayerNetClassifier(1000, solver="sgd")``: width
        1000 trained by the paper's full-batch SGD, from which g learned
        most in our measurements (see :ref:`own_data`). Its parameters can
        be set as ``estimator__hidden_dim`` and so on, in ``set_params`` or
        a grid, which then stores that network here.

    student : estimator object, default=None
        Classifier g; ``None`` means a clone of ``estimator``.

    epsilon : float or "auto", default="auto"
        Radius of the perturbation, at least 0, in the units of the data that
        f sees (standard deviations with ``standardize=True``). ``"auto"``
        scales it to the training rows: 0.3 times their median norm in
        ``norm`` for ``base="none"``, 2 times it for ``"data"`` and
        ``"uniform"`` (see :class:`AdversarialPerturbationTransformer`); the
        value used is ``epsilon_``. 0 in scenario a (``base="none"``) shows g
        nothing but zero vectors: a control that must give chance.

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
        A range is in the units of ``X``, so it needs ``standardize=False``.

    standardize : bool, default=True
        Standardize the features (a :class:`~sklearn.preprocessing.StandardScaler`
        fitted on the training data) before f, the attack and g, which then
        all work in standardized coordinates; ``source_estimator_`` and
        ``estimator_`` are pipelines of that scaler and f or g, so they take
        the data as given. Unscaled real data need it: in scenario a the
        perturbations carry the direction of f's gradient but nothing of the
        offset of the data from 0, so on raw breast_cancer or iris g predicted
        one class at every epsilon. False is the paper's procedure, on the data
        as they are; the presets use it.

    match_rates : bool, default=True
        After g is fitted, shift its decision offsets so that, on the clean
        training rows, g predicts every class as often as f does (a threshold
        on the margin for two classes, one offset per class for more; the
        shift is ``offsets_``). The perturbations carry f's gradient, not its
        offset: g learns to order the rows as f does, while its offsets come
        from its training labels, the targets, which are balanced. On
        imbalanced data g then predicts the minority class far more often
        than f (for a 90 % majority, agreement with f rose from 0.61 to 0.98
        with the shift; see :ref:`imbalanced`). The shift uses f's
        predictions on the training rows (weighted by ``sample_weight``),
        never the true labels. False is the paper's procedure; the presets
        use it. It shifts the student's ``decision_function``, else its
        log-probabilities; a student with neither is left as it is.

    batch_size : int, default=8192
        Number of rows attacked at once; bounds the memory used.

    memory : str, path-like or joblib.Memory, default=None
        Caches the fit of f, so that a search over the attack parameters or the
        student fits f once per split. ``None`` does not cache. Caching needs
        an int ``random_state``, which fixes f's seed.

    store_adversarial : bool, default=False
        Keep the adversarial data set as ``X_adv_`` and ``y_adv_``.

    verbose : int, default=0
        1 or more prints a line when the fit of f, the attack and the fit of
        g start and end, with their times, and passes ``verbose`` on to f and
        g when they take it.

    random_state : int, RandomState instance or None, default=None
        Draws the seeds of f and g (overriding any ``random_state`` they were
        given, so that g starts from an initialisation independent of f's, as
        in the authors' experiments), the target labels and the uniform noise.
        Pass an int for bit-for-bit repeatable fits on the CPU.

    Attributes
    ----------
    source_estimator_ : estimator object
        f, fitted on the clean data; with ``standardize=True`` a
        :class:`~sklearn.pipeline.Pipeline` of ``scaler_`` and f.

    estimator_ : estimator object
        g, fitted on the adversarial data; predictions come from it, moved
        by ``offsets_``. With ``standardize=True`` a pipeline of ``scaler_``
        and g.

    scaler_ : StandardScaler or None
        The scaler fitted on the training data, or None with
        ``standardize=False``.

    epsilon_ : float
        The radius of the perturbations, in the units f sees: ``epsilon``,
        or what ``"auto"`` made of it.

    offsets_ : ndarray of shape (n_classes,)
        What ``match_rates`` added to g's scores (its decision function, or
        its log-probabilities), one value per class; for two classes g's
        margin moved by ``offsets_[1] - offsets_[0]``. Zeros with
        ``match_rates=False``. Predictions add them to g's own.

    agreement_kappa_ : float
        How much g learned of f: Cohen's kappa of g's predictions (with
        ``offsets_``) against f's on the clean training rows; 1 when they
        agree everywhere, 0 at chance. Below 0.5 the fit warns.

    ranking_agreement_ : float
        Whether g orders the clean training rows as f labels them: the AUC
        of g's scores against f's predictions (the mean one-vs-rest AUC for
        more classes), 0.5 at chance. NaN when g has no scores or f predicts
        a single class.

    source_kappa_ : float
        How much f learned of ``y``: Cohen's kappa of f's predictions
        against ``y`` on the training rows. Below 0.2 the fit warns.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    X_adv_ : ndarray of shape (n_samples, n_features)
        Adversarial examples g was trained on, in the units of ``X`` (with
        ``standardize=True``, scenario a's perturbations are put on the mean of
        the data, the origin of the standardized coordinates); only with
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

    Notes
    -----
    Warnings and errors of the fits of f and g start with which of the two
    they come from; g's also give ``epsilon`` and the median norm of the
    rows of ``X``, since an epsilon far from the scale of the data is the
    usual reason why g fails. Adversarial examples that are not finite are a
    ValueError. f and g are judged on the clean training rows, by Cohen's
    kappa, which corrects agreement for chance (an untrained network already
    agrees with a trained one on 0.6 to 0.7 of two-class data): a
    :class:`~sklearn.exceptions.ConvergenceWarning` when f's kappa against
    ``y`` is below 0.2, or g's against f below 0.5 (the thresholds and the
    runs they were measured on are in :ref:`judge`). The warning names the
    likely cause: f itself, g's threshold (its scores rank the rows as f
    does, but its class rates are off), ``epsilon`` against the scale of the
    rows, or g's own training. (g's own fit on the adversarial examples may
    predict one class on those, which in scenario a, where they are epsilon
    short, is no failure: that warning is dropped.)

    The target labels are balanced over the rows, not over their weights:
    under the identity loss in scenario a, where the bias of g weighs most,
    strongly unequal weights can unbalance the targets enough for g to
    collapse to one class (measured with weights 0, 1, 2 in turn; weights
    drawn from [0.5, 1.5] keep g at 0.98), which the warning above reports.

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
    ...     hidden_dim=100, loss="identity", solver="sgd", lr=1.0, max_epochs=50, random_state=0)
    >>> clf = PerturbationLearningClassifier(net, epsilon=0.01, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True

    Sample weights count for f and, row by row, for g:

    >>> import numpy as np
    >>> weights = np.random.RandomState(0).uniform(0.5, 1.5, size=len(y))
    >>> clf.fit(X, y, sample_weight=weights).score(X, y) > 0.9
    True
    """

    _nested_defaults = {"estimator": default_network}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "student": [HasMethods(["fit", "predict"]), None],
        **{
            name: AdversarialPerturbationTransformer._parameter_constraints[name]
            for name in _ATTACK_PARAMETERS
        },
        "standardize": ["boolean"],
        "match_rates": ["boolean"],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "store_adversarial": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        student=None,
        *,
        epsilon="auto",
        norm="l2",
        steps=1,
        step_size=None,
        targets="balanced",
        base="none",
        clip=None,
        batch_size=8192,
        standardize=True,
        match_rates=True,
        memory=None,
        store_adversarial=False,
        verbose=0,
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
        self.standardize = standardize
        self.match_rates = match_rates
        self.memory = memory
        self.store_adversarial = store_adversarial
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(
        # estimator and student are validated when they are fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None):
        """Train f on ``(X, y)``, attack it, and train g on the attack alone.

        Warnings and errors of the two fits say whether they come from f or
        from g: a student that fails to learn hints at ``epsilon``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, for the fit of f and, since
            every sample gives one adversarial example, for the fit of g. f and
            g must then accept ``sample_weight`` in ``fit``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, accept_sparse="csr")
        check_classification_targets(y)
        if self.standardize and self.clip is not None:
            raise ValueError(
                f"clip={self.clip!r} is a range in the units of X, but with "
                "standardize=True the attack works in standardized coordinates; "
                "set standardize=False to clip."
            )
        rng = check_random_state(self.random_state)
        estimator = self._or_default("estimator")
        source = self._prepare(clone(estimator), rng, sample_weight, "estimator")
        student = self._prepare(
            clone(estimator if self.student is None else self.student),
            rng,
            sample_weight,
            "estimator" if self.student is None else "student",
        )
        attack_seed = rng.randint(SEED_BOUND)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        # The first step to see the data, the scaler or else f and g, is
        # fitted on it as it came (a frame keeps its column names), so that
        # source_estimator_ and estimator_ take the same without a warning.
        # The scaler hands f and g arrays, whatever the global transform
        # output, as skorch nets need.
        self.scaler_ = None
        X_scaled = X
        if self.standardize:
            # Sparse rows are scaled, not centred, which would fill them in.
            self.scaler_ = StandardScaler(with_mean=not issparse(X)).set_output(
                transform="default"
            )
            X_named = self._input_for(self.scaler_, X)
            X_scaled = self.scaler_.fit(X_named, sample_weight=sample_weight).transform(X_named)

        # check_memory takes a str, not a path object.
        memory = os.fspath(self.memory) if isinstance(self.memory, os.PathLike) else self.memory
        fit_source = check_memory(memory).cache(_fit_source)
        with self._announce(1, "fitting f on the clean data"), _in_context(
            "The source network f (fitted on the clean data)"
        ):
            source = fit_source(source, self._fit_input(source, X_scaled), y, sample_weight)
        attack = AdversarialPerturbationTransformer(
            source,
            prefit=True,
            random_state=attack_seed,
            **{name: getattr(self, name) for name in _ATTACK_PARAMETERS},
        )
        with self._announce(2, "attacking f"):
            X_scaled_adv, y_adv = attack.fit_resample(X_scaled, y)
        self.classes_ = attack.classes_
        self.epsilon_ = attack.epsilon_
        drawn = np.unique(y_adv)
        if len(drawn) < len(self.classes_):
            raise ValueError(
                f"The target labels drew only the classes {drawn.tolist()} of "
                f"{self.classes_.tolist()}, so g could not learn the others; use "
                "targets='balanced' or more samples."
            )
        student_role = _student_role(
            self.epsilon_, self.norm, self.base, X_scaled, self.standardize
        )
        # In scenario a the adversarial examples are epsilon short, so g can
        # predict one class on them and still classify the clean data: its
        # collapse is judged on the clean data instead.
        with self._announce(3, "fitting g on the adversarial data"), _in_context(
            student_role, ignore=CollapseWarning
        ):
            student = student.fit(
                self._fit_input(student, X_scaled_adv), y_adv, **_weights(sample_weight)
            )
        self.source_estimator_, self.estimator_ = source, student
        if self.standardize:
            self.source_estimator_, self.estimator_ = (
                Pipeline([("standardscaler", self.scaler_), ("network", network)])
                for network in (source, student)
            )
        self._judge(X, y, sample_weight, student_role)
        if self.store_adversarial:
            X_adv = (
                X_scaled_adv
                if self.scaler_ is None
                else self.scaler_.inverse_transform(X_scaled_adv)
            )
            self.X_adv_, self.y_adv_ = X_adv, y_adv
        return self

    def _judge(self, X, y, sample_weight, role):
        """Match g's class rates to f's (``match_rates``), then judge f and g; warn on failure.

        Everything is measured on the clean training rows, with f's
        predictions as the labels for g: f against ``y`` (``source_kappa_``),
        g against f (``agreement_kappa_``, ``ranking_agreement_``).
        """
        n_classes = len(self.classes_)
        source_X = self._input_for(self.source_estimator_, X)
        source_index = np.searchsorted(self.classes_, self.source_estimator_.predict(source_X))
        X = self._input_for(self.estimator_, X)
        y_index = np.searchsorted(self.classes_, y)
        scores = response_scores(self.estimator_, X, n_classes)
        self.offsets_ = np.zeros(n_classes)
        self.ranking_agreement_ = float("nan")
        if scores is not None:
            if self.match_rates:
                target = class_rates(source_index, n_classes, sample_weight)
                self.offsets_ = offsets_for_rates(scores, target, sample_weight)
            self.ranking_agreement_ = ranking_agreement(scores, source_index, sample_weight)
        if self._shifted():
            student_index = np.argmax(scores + self.offsets_, axis=1)
        else:
            student_index = np.searchsorted(self.classes_, self.estimator_.predict(X))
        self.source_kappa_ = chance_corrected_agreement(y_index, source_index, sample_weight)
        self.agreement_kappa_ = chance_corrected_agreement(
            source_index, student_index, sample_weight
        )
        if self.source_kappa_ < SOURCE_LEARNED:
            warnings.warn(
                f"The source network f (fitted on the clean data) learned nothing of y: "
                f"on the training rows its predictions agree with y at Cohen's kappa "
                f"{self.source_kappa_:.3f} (0 is chance; {SOURCE_LEARNED} is the least "
                f"this library calls learning), so g has nothing to learn from it. Look "
                f"at f's own training first.",
                ConvergenceWarning,
            )
            return
        if self.agreement_kappa_ >= LEARNED:
            return
        if _collapsed(student_index, y_index):
            warnings.warn(
                f"{role}: g collapsed: it predicts the single class "
                f"{self.classes_[student_index[0]]!r} on all {len(y)} clean training samples.",
                CollapseWarning,
            )
            return
        warnings.warn(
            f"{role}: g learned little of f: on the clean training rows they agree on "
            f"{np.mean(source_index == student_index):.1%} of the rows, Cohen's kappa "
            f"{self.agreement_kappa_:.3f} (0 is chance, {LEARNED} the least this library "
            f"calls learning). {self._likely_cause(source_index, student_index)}",
            ConvergenceWarning,
        )

    def _likely_cause(self, source_index, student_index):
        """The likeliest reason why g did not learn f, in numbers."""
        n_classes = len(self.classes_)
        if self.ranking_agreement_ >= RANKING_HOLDS and not self.match_rates:
            f_rates = class_rates(source_index, n_classes)
            g_rates = class_rates(student_index, n_classes)
            return (
                f"Its threshold is the cause: g orders the rows as f does (ranking "
                f"agreement, an AUC, {self.ranking_agreement_:.3f}), but predicts the "
                f"classes {self.classes_.tolist()} at the rates "
                f"{np.round(g_rates, 3).tolist()} where f predicts them at "
                f"{np.round(f_rates, 3).tolist()}: g's offsets come from its balanced "
                "training targets. match_rates=True shifts them to f's rates."
            )
        causes = [
            f"the ranking agreement of g's scores with f's labels is "
            f"{self.ranking_agreement_:.3f} (an AUC, 0.5 at chance)"
        ]
        student = self.estimator_[-1] if isinstance(self.estimator_, Pipeline) else self.estimator_
        curve = getattr(student, "loss_curve_", None)
        if curve is not None:
            moved = f", its loss from {curve[0]:.4g} to {curve[-1]:.4g}" if curve else ""
            causes.append(f"g trained {len(curve)} epochs{moved}")
        return "Check: " + "; ".join(causes) + "."

    def _prepare(self, estimator, rng, sample_weight, name):
        """Seed ``estimator`` from ``rng`` and hand it ``verbose``; check it takes the weights.

        Its parameters are validated here, before anything is fitted, where
        it validates them in scikit-learn's way: a student with a bad
        setting is refused before f is trained and attacked.
        """
        if hasattr(estimator, "_parameter_constraints"):
            # scikit-learn's validation (skorch has a method of that name too).
            BaseEstimator._validate_params(estimator)
        if sample_weight is not None and not has_fit_parameter(estimator, "sample_weight"):
            raise ValueError(
                f"sample_weight was given, but {name}={type(estimator).__name__} "
                "does not accept sample_weight in fit."
            )
        if self.verbose and "verbose" in estimator.get_params(deep=False):
            estimator.set_params(verbose=self.verbose)
        return _reseed(estimator, rng)

    @contextmanager
    def _announce(self, number, what):
        """Print the start and the end of step ``number`` of 3 when verbose."""
        if not self.verbose:
            yield
            return
        name = type(self).__name__
        print(f"[{name}] (step {number} of 3) {what}", flush=True)
        start = time.perf_counter()
        yield
        print(
            f"[{name}] (step {number} of 3) {what}, total={time.perf_counter() - start:6.1f}s",
            flush=True,
        )

    def _input_for(self, network, X):
        """``X`` as ``network`` takes it: the scaler, or f or g with the scaler if any."""
        return _input_for(network, X, getattr(self, "feature_names_in_", None))

    def _fit_input(self, network, X):
        """What f or g is fitted on: the scaler's arrays, else ``X`` as it came."""
        return X if self.standardize else self._input_for(network, X)

    def _validate_for_student(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES, accept_sparse="csr")
        return self._input_for(self.estimator_, X)

    def _shifted(self):
        """Whether ``offsets_`` shift g's predictions; without a shift they are g's own."""
        return bool(self.offsets_.any())

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
        if not self._shifted():
            return self.estimator_.predict(X)
        scores = response_scores(self.estimator_, X, len(self.classes_))
        return self.classes_[np.argmax(scores + self.offsets_, axis=1)]

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
        if not self._shifted():
            return self.estimator_.predict_proba(X)
        return np.exp(self._shifted_log_proba(X))

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
        if not self._shifted():
            return self.estimator_.predict_log_proba(X)
        return self._shifted_log_proba(X)

    def _shifted_log_proba(self, X):
        """g's log-probabilities with its class rates shifted by ``offsets_``, renormalised.

        For a student whose probabilities are the softmax of its decision
        function, as the library's network, these are the softmax of the
        shifted decision function.
        """
        if hasattr(self.estimator_, "predict_log_proba"):
            log_proba = self.estimator_.predict_log_proba(X)
        else:
            with np.errstate(divide="ignore"):
                log_proba = np.log(self.estimator_.predict_proba(X))
        return log_softmax(np.asarray(log_proba, dtype=np.float64) + self.offsets_, axis=1)

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
        decision = self.estimator_.decision_function(X)
        if not self._shifted():
            return decision
        # In g's own floating point type, which the shift does not change.
        if decision.ndim == 1:
            return decision + decision.dtype.type(self.offsets_[1] - self.offsets_[0])
        return decision + self.offsets_.astype(decision.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
