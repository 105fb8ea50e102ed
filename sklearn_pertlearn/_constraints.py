"""The allowed values of the parameters that several estimators and the experiments share.

In scikit-learn's constraint language, written once here: the estimators'
``_parameter_constraints``, the attack functions and the experiments'
configuration take them from this module. It imports scikit-learn but not
torch, so the command line can validate a configuration without loading
torch; the command line itself imports it only when it validates.
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._choices import BASES, LOSSES, NORMS, PRECISIONS, TARGET_STRATEGIES


class Number(Interval):
    """scikit-learn's ``Interval``, refusing booleans.

    ``True`` is an ``Integral`` (and a ``Real``) to Python, so scikit-learn's
    interval takes it as 1; a width or a radius given as a boolean is a
    mistake.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def count(left):
    """Integers from ``left`` on."""
    return Number(Integral, left, None, closed="left")


#: Width m of the hidden layer.
HIDDEN_DIM = [count(1)]
#: Slope gamma of the leaky ReLU, in [0, 1).
SLOPE = [Number(Real, 0, 1, closed="left")]
LOSS = [StrOptions(set(LOSSES))]
PRECISION = [StrOptions(set(PRECISIONS))]
#: Radius of a perturbation, at least 0.
EPSILON = [Number(Real, 0, None, closed="left")]

#: The attack's own parameters, as the attack functions, the transformer and
#: the meta-estimator take them (the estimators also take ``"auto"`` for
#: ``epsilon``).
ATTACK = {
    "epsilon": EPSILON,
    "norm": [StrOptions(set(NORMS))],
    "steps": [count(1)],
    "step_size": [Number(Real, 0, None, closed="neither"), None],
    "clip": [tuple, None],
    "batch_size": [count(1)],
}
TARGETS = [StrOptions(set(TARGET_STRATEGIES))]
BASE = [StrOptions(set(BASES))]
