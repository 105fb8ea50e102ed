"""Decision offsets that give a classifier the class rates of another.

A student g trained on perturbations learns the teacher f's gradient, which
orders the samples as f does, but its offsets come from its own training
labels, the targets of the attack: balanced targets make g predict the
classes about equally often whatever f does. These functions find additive
offsets ``b`` for g's scores so that ``argmax(scores + b)`` predicts each
class, on the rows given, as often as f does there. They use f's predictions
on the clean training rows only, never the true labels.
"""

import numpy as np

# Rounds of the K-class search; each moves every offset by the log ratio of
# wanted to current rate. Measured on make_classification's 3 classes at
# 0.8 / 0.15 / 0.05 and on digits: the rates settle within 20 rounds.
_ROUNDS = 100


def response_scores(estimator, X, n_classes):
    """The scores that the offsets shift: ``decision_function``, else the log-probabilities.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n_samples, n_features)
    n_classes : int
        Number of classes of the estimator.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_classes) or None
        One column per class in the order of ``estimator.classes_`` (two
        classes' margins ``d`` become the columns ``[0, d]``), in float64;
        None when the estimator has none of ``decision_function``,
        ``predict_log_proba`` and ``predict_proba``, or its decision function
        has no column per class (one-vs-one, say), or its scores hold NaN.
    """
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    elif hasattr(estimator, "predict_log_proba"):
        scores = np.asarray(estimator.predict_log_proba(X), dtype=np.float64)
    elif hasattr(estimator, "predict_proba"):
        with np.errstate(divide="ignore"):
            scores = np.log(np.asarray(estimator.predict_proba(X), dtype=np.float64))
    else:
        return None
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    # NaN scores (a student that diverged) order nothing.
    usable = scores.shape[1] == n_classes and not np.isnan(scores).any()
    return scores if usable else None


def class_rates(y_index, n_classes, sample_weight=None):
    """Weighted fraction of the rows in each class.

    Examples
    --------
    >>> class_rates([0, 1, 1, 1], 2)
    array([0.25, 0.75])
    """
    counts = np.bincount(np.asarray(y_index), sample_weight, minlength=n_classes)
    return counts / counts.sum()


def offsets_for_rates(scores, rates, sample_weight=None):
    """Offsets after which ``argmax(scores + offsets)`` predicts each class at ``rates``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
        Scores of the classifier to shift.
    rates : ndarray of shape (n_classes,)
        The wanted fraction of rows predicted as each class; sums to 1.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the rows in the rates.

    Returns
    -------
    offsets : ndarray of shape (n_classes,)
        Added to the scores; they sum to 0 over the classes (only their
        differences matter). Two classes get a threshold on the margin
        halfway between the rows around the wanted quantile; more classes,
        the offsets of the rounds whose rates came closest to ``rates``.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.column_stack([np.zeros(4), [-2.0, -1.0, 1.0, 2.0]])
    >>> offsets_for_rates(scores, np.array([0.75, 0.25]))
    array([ 0.75, -0.75])
    """
    n_samples, n_classes = scores.shape
    weight = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, float)
    if n_classes == 2:
        threshold = _weighted_threshold(scores[:, 1] - scores[:, 0], rates[1], weight)
        return np.array([threshold / 2, -threshold / 2])
    offsets = np.zeros(n_classes)
    best, best_gap = offsets, np.inf
    tiny = 0.5 / max(weight.sum(), 1.0)
    for _ in range(_ROUNDS):
        current = class_rates(np.argmax(scores + offsets, axis=1), n_classes, weight)
        gap = np.abs(current - rates).sum()
        if gap < best_gap:
            best, best_gap = offsets.copy(), gap
        if gap == 0:
            break
        # Half the log ratio: the whole step overshoots where rates interact.
        offsets = offsets + 0.5 * np.log((rates + tiny) / (current + tiny))
        offsets -= offsets.mean()
    return best


def _weighted_threshold(margins, positive_rate, weight):
    """A threshold on ``margins`` with the weight ``positive_rate`` of the rows above it."""
    if positive_rate >= 1.0:
        return margins.min() - 1.0
    if positive_rate <= 0.0:
        return margins.max() + 1.0
    order = np.argsort(margins, kind="stable")
    margins, weight = margins[order], weight[order]
    # The weight at or below each row, from the smallest margin up; the rows
    # up to the first that reaches 1 - positive_rate go below the threshold.
    below = np.cumsum(weight) / weight.sum()
    k = min(int(np.searchsorted(below, 1.0 - positive_rate - 1e-12)), len(margins) - 2)
    return (margins[k] + margins[k + 1]) / 2
