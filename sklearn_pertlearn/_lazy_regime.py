"""The lazy-regime predictor ``hat_f`` as a scikit-learn classifier.

:class:`LazyRegimeClassifier` is public as
:class:`sklearn_pertlearn.theory.LazyRegimeClassifier`.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._kernel import common_dtype, lazy_sums, to_numpy
from ._threads import lazy_regime_work, limit_threads
from ._validation import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    SLOPE_CONSTRAINT,
    check_device,
    to_tensor,
)

__all__ = ["LazyRegimeClassifier"]


class LazyRegimeClassifier(ClassifierMixin, BaseEstimator):
    r"""The infinite-width, identity-loss limit of the two-layer network.

    The decision function is :func:`~sklearn_pertlearn.theory.hat_f` of the
    training data,
    ``(1/N) sum_n y_n Phi(x_n, z) (x_n . z)``, which a wide network trained
    with the identity loss follows up to a positive factor (a kernel machine
    with the kernel ``Phi(x, z) (x . z)`` and fixed dual coefficients). As an
    estimator it can be scored, cross-validated and compared with a trained
    network by the same tools. With K > 2 classes the decision function of
    class k uses the coefficients ``1[y_n = k] - 1/K``, the limit of the
    network's K-class identity loss; for two classes this is ``hat_f`` with
    ``classes_[1]`` as +1.

    Fitted on adversarial examples ``(X_adv, y_adv)`` it is the lazy limit of
    the network ``g`` itself, which :func:`~sklearn_pertlearn.theory.hat_g`
    approximates through the direction of theorem 3.3.

    Parameters
    ----------
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where ``decision_function`` computes, e.g. ``"cuda"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    X_fit_ : ndarray of shape (n_samples, n_features)
        The training inputs, which the decision function sums over.
    dual_coef_ : ndarray of shape (n_samples,) or (n_classes, n_samples)
        The weight of each training sample: ``y_n / N`` for two classes
        (``y_n`` in {-1, +1}), ``(1[y_n = k] - 1/K) / N`` for K classes.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn_pertlearn.theory.hat_f : The decision function as a plain function.

    Notes
    -----
    ``decision_function`` and ``predict`` take the query points in blocks
    that hold at most scikit-learn's ``working_memory`` of kernel entries
    (see :func:`sklearn.config_context`). The training data stay on
    ``device`` as tensors from one call to the next; a pickle leaves them
    out.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import LazyRegimeClassifier
    >>> X = [[1.0, 0.2], [0.8, -0.1], [-1.0, 0.1], [-0.9, -0.3]]
    >>> clf = LazyRegimeClassifier().fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[2.0, 0.0], [-2.0, 0.5]])
    array(['a', 'b'], dtype='<U1')
    """

    _parameter_constraints = {"slope": SLOPE_CONSTRAINT, "device": DEVICE_CONSTRAINT}

    def __init__(self, slope=0.0, device="cpu"):
        self.slope = slope
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store the training data and the dual coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels, any two or more.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        check_device(self.device)
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "LazyRegimeClassifier needs samples of at least 2 classes in the "
                f"data; got 1 class: {self.classes_[0]!r}."
            )
        n_samples = X.shape[0]
        if n_classes == 2:
            coef = 2.0 * encoded - 1.0
        else:
            coef = (encoded == np.arange(n_classes)[:, None]) - 1.0 / n_classes
        self.X_fit_ = X
        self.dual_coef_ = (coef / n_samples).astype(X.dtype)
        self._tensors = {}
        return self

    def __getstate__(self):
        # The tensors may live on a GPU that the loading machine lacks; they
        # are made again at the first call.
        state = super().__getstate__()
        return {**state, "_tensors": {}} if "_tensors" in state else state

    def _training_tensors(self, dtype, device):
        """``X_fit_`` and the coefficients (K, N) as tensors, kept between calls.

        On a GPU this saves uploading the training data at every call. Only
        the latest dtype and device are kept.
        """
        key = (dtype, device)
        tensors = self._tensors.get(key)
        if tensors is None:
            coef = self.dual_coef_.reshape(-1, self.X_fit_.shape[0])
            tensors = tuple(to_tensor(a, dtype, device) for a in (self.X_fit_, coef))
            self._tensors.clear()
            self._tensors[key] = tensors
        return tensors

    @limit_threads(lazy_regime_work)
    def decision_function(self, X):
        """Return ``hat_f`` of the training data at ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Points at which to evaluate.

        Returns
        -------
        scores : ndarray of shape (n_queries,) or (n_queries, n_classes)
            For two classes, positive scores mean ``classes_[1]``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        device = check_device(self.device)
        dtype = common_dtype([self.X_fit_, X])
        X_fit, coef = self._training_tensors(dtype, device)
        scores = lazy_sums(X_fit, coef, to_tensor(X, dtype, device), self.slope)
        return to_numpy(scores[0] if len(self.classes_) == 2 else scores.T)

    def predict(self, X):
        """Predict the class of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Points to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            The class with the largest score; for two classes ``classes_[1]``
            where the decision function is positive.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

