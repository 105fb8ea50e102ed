"""When a fit of the classifier has failed: the rules, as pure functions.

They read the training losses, the learning rates and the labels, never a
network, so they are tested on made-up loss curves. The classifier applies
them after every fit and words the warnings; its class Notes state them.
"""

import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

#: An epoch's logistic loss above this many times the first epoch's is an
#: explosion: good fits measured on scikit-learn's real data sets, raw or
#: standardized, peaked at 2.4 times (raw digits), failed ones at 130 to
#: 1500 times.
EXPLOSION = 10.0
#: Six cuts by the plateau scheduler's factor 0.1 (a little slack for the
#: rounding of the products) mean the loss stalled for at least 60 epochs; no
#: good fit measured there had a single cut.
LR_FLOOR = 1.000001e-6
#: ... while, under the logistic loss, the loss stays above this fraction of
#: the loss of predicting the class frequencies: students of perturbation
#: learning in scenario b, and Adam on raw data, stall at 1e-7 to 0.5 times
#: it with 0.8 to 1.0 training accuracy (measured).
STALLED = 0.5


class CollapseWarning(ConvergenceWarning):
    """A fit that predicts a single class on training data of several.

    A :class:`~sklearn.exceptions.ConvergenceWarning`, so that filters of
    those catch it; its own class lets a caller that knows better (the
    student of :class:`~sklearn_pertlearn.PerturbationLearningClassifier`,
    whose training data are tiny perturbations) judge the collapse on other
    data.
    """


def first_nonfinite(losses):
    """Position (from 1) of the first loss that is NaN or infinite, or None.

    Examples
    --------
    >>> first_nonfinite([0.7, 0.5, float("nan")])
    3
    >>> first_nonfinite([0.7, 0.5]) is None
    True
    """
    return next((k for k, loss in enumerate(losses, 1) if not math.isfinite(loss)), None)


def class_frequency_loss(y_index):
    """The logistic loss of predicting the class frequencies of ``y_index``: their entropy.

    Examples
    --------
    >>> round(class_frequency_loss([0, 1, 0, 1]), 4)
    0.6931
    """
    frequencies = np.bincount(y_index) / len(y_index)
    frequencies = frequencies[frequencies > 0]
    return float(-np.sum(frequencies * np.log(frequencies)))


def exploded(losses, loss):
    """Position (from 0) of the peak of an exploded logistic loss, or None.

    Parameters
    ----------
    losses : sequence of float
        Training loss of every epoch of the fit.
    loss : {"logistic", "identity"}
        The loss; the unbounded identity loss falls without limit on
        separable data, so only the logistic loss can explode.

    Returns
    -------
    peak : int or None
        The epoch (from 0) of the largest loss, when it exceeds
        :data:`EXPLOSION` times the first.

    Examples
    --------
    >>> exploded([0.7, 0.6, 9.0], "logistic")
    2
    >>> exploded([0.7, 0.6, 0.5], "logistic") is None
    True
    """
    if loss != "logistic" or not losses:
        return None
    peak = int(np.argmax(losses))
    return peak if losses[peak] > EXPLOSION * losses[0] else None


def stalled(losses, *, loss, lr, final_lr, scheduled, y_index):
    """Whether the plateau scheduler cut the rate to its floor while the loss was still high.

    Parameters
    ----------
    losses : sequence of float
        Training loss of every epoch of the fit.
    loss : {"logistic", "identity"}
        The loss.
    lr : float
        The learning rate the fit started with.
    final_lr : float
        The learning rate it ended with.
    scheduled : bool
        Whether the plateau scheduler ran.
    y_index : ndarray of shape (n_samples,)
        Class indices of the training samples.

    Returns
    -------
    stalled : bool
        True when the rate fell to :data:`LR_FLOOR` times ``lr`` or below
        and, under the logistic loss, the last loss stays above
        :data:`STALLED` times :func:`class_frequency_loss`: a loss that
        stalls below it has converged.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1])
    >>> stalled([0.7, 0.69], loss="logistic", lr=1.0, final_lr=1e-8, scheduled=True, y_index=y)
    True
    >>> stalled([0.7, 0.01], loss="logistic", lr=1.0, final_lr=1e-8, scheduled=True, y_index=y)
    False
    """
    if not scheduled or not losses or final_lr > LR_FLOOR * lr:
        return False
    return loss != "logistic" or losses[-1] > STALLED * class_frequency_loss(y_index)


def collapsed(predicted_index, y_index):
    """Whether a single class is predicted for training labels of several.

    Examples
    --------
    >>> collapsed([1, 1, 1], [0, 1, 1])
    True
    >>> collapsed([0, 1, 1], [0, 1, 1])
    False
    """
    return len(np.unique(predicted_index)) == 1 and len(np.unique(y_index)) > 1
