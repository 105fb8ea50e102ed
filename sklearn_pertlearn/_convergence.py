"""When a fit of the classifier has failed: the rules, as pure functions.

They read the training losses, the learning rates and the labels, never a
network, so they are tested on made-up loss curves. The classifier applies
them after every fit and words the warnings; its class Notes state them.
"""

import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._judge import chance_corrected_agreement

#: An epoch's logistic loss above this many times the first epoch's is an
#: explosion: good fits measured on scikit-learn's real data sets, raw or
#: standardized, peaked at 2.4 times (raw digits), failed ones at 130 to
#: 1500 times.
EXPLOSION = 10.0
#: Six cuts by the plateau scheduler's factor 0.1 (a little slack for the
#: rounding of the products) mean the loss stalled for at least 60 epochs.
LR_FLOOR = 1.000001e-6
#: A fit whose predictions on its training data agree with ``y`` below this
#: Cohen's kappa learned nothing. Measured: a learning rate of 1e-7 or one
#: epoch of full-batch SGD on standardized breast_cancer, -0.02 to 0.05;
#: fits that learned, 0.4 and more (0.41 at a 97 % majority with 0.97
#: accuracy, the hardest measured). A stalled loss alone is no failure: on
#: data that d = 10 features cannot separate, the logistic loss stops at
#: its floor (0.36) with a good fit.
CHANCE = 0.1


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


def stalled(*, lr, final_lr, scheduled):
    """Whether the plateau scheduler cut the learning rate to :data:`LR_FLOOR` times ``lr``.

    Examples
    --------
    >>> stalled(lr=1.0, final_lr=1e-8, scheduled=True)
    True
    >>> stalled(lr=1.0, final_lr=1e-5, scheduled=True)
    False
    """
    return scheduled and final_lr <= LR_FLOOR * lr


def at_chance(y_index, predicted_index, sample_weight=None):
    """Cohen's kappa of the predictions against the labels, when it is below :data:`CHANCE`.

    Returns
    -------
    kappa : float or None
        None when the predictions are better than chance.

    Examples
    --------
    >>> at_chance([0, 1, 0, 1], [1, 1, 1, 1])
    0.0
    >>> at_chance([0, 1, 0, 1], [0, 1, 0, 1]) is None
    True
    """
    kappa = chance_corrected_agreement(y_index, predicted_index, sample_weight)
    return kappa if kappa < CHANCE else None


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
