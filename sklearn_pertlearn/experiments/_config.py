"""The settings of one run, as a validated configuration, and how to read them.

The command line builds its options from this module, so it imports neither
torch nor, until the first configuration is validated, scikit-learn.
"""

from dataclasses import asdict, dataclass, fields
from functools import cache
from numbers import Integral, Real
from os import PathLike


#: Data sets drawn afresh for every run, in any size.
SYNTHETIC_DATASETS = ("shifted-gaussian", "gaussian")
#: Every data set a run can use; the real ones have sizes of their own.
DATASETS = (*SYNTHETIC_DATASETS, "digits", "mnist", "fashion-mnist")
#: The paper's scenarios and the ``base`` of the attack that makes them.
SCENARIOS = {"a": "none", "b": "data", "uniform": "uniform"}

#: What :func:`run_experiment` measures, in the order of the CSV columns.
METRICS = (
    "f_train_accuracy",
    "g_train_accuracy",
    "f_test_accuracy",
    "g_test_accuracy",
    "agreement",
    "cosine_similarity",
    "seconds",
)

#: How a point of a sweep is reported: at the learning-rate pair where g is
#: most accurate on D, or every metric's maximum over the pairs.
SELECTIONS = ("g_train_accuracy", "max")

# Sizes of synthetic data when a configuration leaves them None: sG(a)'s.
_SYNTHETIC_SIZES = {"n_samples": 1000, "n_features": 100, "n_test": 1000}


@cache
def _constraints():
    """The allowed values of every setting of :class:`ExperimentConfig`.

    Built on first use: scikit-learn's validation costs a second of imports
    that the command line's help and argument errors need not pay.
    """
    from sklearn.utils._param_validation import StrOptions

    from .. import _constraints as shared

    count = shared.count
    return {
        "dataset": [StrOptions(set(DATASETS))],
        "scenario": [StrOptions(set(SCENARIOS))],
        "n_samples": [count(1), None],
        "n_features": [count(1), None],
        "n_test": [count(1), None],
        "hidden_dim": shared.HIDDEN_DIM,
        "epsilon": shared.EPSILON,
        "loss": shared.LOSS,
        "slope": shared.SLOPE,
        "lr_f": [shared.Number(Real, 0, None, closed="neither")],
        "lr_g": [shared.Number(Real, 0, None, closed="neither")],
        "epochs": [count(0)],
        "epochs_g": [count(0), None],
        "targets": shared.TARGETS,
        "norm": shared.ATTACK["norm"],
        "steps": shared.ATTACK["steps"],
        "precision": shared.PRECISION,
        "device": [str],
        "seed": [shared.Number(Integral, 0, 2**32 - 1, closed="both")],
        "cosine": ["boolean"],
        "data_home": [str, PathLike, None],
    }


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of one run; the defaults are the paper's sG(a) configuration.

    Frozen: derive a variant with :func:`dataclasses.replace`.

    Parameters
    ----------
    dataset : {"shifted-gaussian", "gaussian", "digits", "mnist", \
            "fashion-mnist"}, default="shifted-gaussian"
        Synthetic data are drawn afresh for training and test (the shifted
        Gaussian training set has equally many samples of both classes, as
        the authors drew it); ``"digits"`` splits scikit-learn's digits 1 vs
        2; the MNIST pairs use their own train and test sets.
    scenario : {"a", "b", "uniform"}, default="a"
        a: x_adv = r; b: x_adv = x + r; uniform: perturbations of uniform noise.
    n_samples : int, default=None
        Training samples N of synthetic data; None is 1000. Real data sets
        have their own sizes: for them it must stay None, and a result
        reports the size that was used.
    n_features : int, default=None
        Input dimension d of synthetic data; None is 100 (None for real
        data, as ``n_samples``).
    n_test : int, default=None
        Test samples of synthetic data; None is 1000 (None for real data, as
        ``n_samples``).
    hidden_dim : int, default=100
        Width m of f and g.
    epsilon : float, default=0.01
        Perturbation radius.
    loss : {"identity", "logistic"}, default="identity"
    slope : float, default=0.0
        Leaky ReLU slope gamma.
    lr_f, lr_g : float, default=1.0
        Learning rates of f and g.
    epochs : int, default=1000
        Full-batch epochs of f (and of g when ``epochs_g`` is None).
    epochs_g : int, default=None
        Full-batch epochs of g; None means ``epochs``.
    targets : {"balanced", "random", "random_other", "shift"}, default="balanced"
    norm : {"l2", "linf"}, default="l2"
    steps : int, default=1
        Attack steps; more than 1 is PGD.
    precision : {"32-true", "bf16-mixed", "16-mixed"}, default="32-true"
        Numeric precision of training f and g (see ``precision`` of
        :class:`~sklearn_pertlearn.WideTwoLayerNetClassifier`); the authors
        trained in ``"16-mixed"``.
    device : str, default="cpu"
    seed : int, default=0
        Seeds the data, the networks, the targets and the noise.
    cosine : bool, default=False
        Also measure the cosine similarity of f's perturbations to the
        direction of theorem 3.3 (scenarios a and b only).
    data_home : str, default=None
        Cache folder of the MNIST and Fashion-MNIST downloads (see
        :func:`~sklearn_pertlearn.datasets.load_mnist_pair`); None is
        scikit-learn's default.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig
    >>> ExperimentConfig().n_samples, ExperimentConfig(dataset="digits").n_samples
    (1000, None)
    """

    dataset: str = "shifted-gaussian"
    scenario: str = "a"
    n_samples: int = None
    n_features: int = None
    n_test: int = None
    hidden_dim: int = 100
    epsilon: float = 0.01
    loss: str = "identity"
    slope: float = 0.0
    lr_f: float = 1.0
    lr_g: float = 1.0
    epochs: int = 1000
    epochs_g: int = None
    targets: str = "balanced"
    norm: str = "l2"
    steps: int = 1
    precision: str = "32-true"
    device: str = "cpu"
    seed: int = 0
    cosine: bool = False
    data_home: str = None

    def __post_init__(self):
        from sklearn.utils._param_validation import validate_parameter_constraints

        validate_parameter_constraints(
            _constraints(), asdict(self), caller_name="ExperimentConfig"
        )
        if self.cosine and self.scenario == "uniform":
            raise ValueError(
                "cosine=True compares the perturbation of every training point "
                "with theorem 3.3's direction there, but scenario='uniform' "
                "perturbs noise; use scenario 'a' or 'b'."
            )
        sizes = {name: getattr(self, name) for name in _SYNTHETIC_SIZES}
        if self.dataset in SYNTHETIC_DATASETS:
            # Frozen: the one place a field is set after __init__.
            for name, default in _SYNTHETIC_SIZES.items():
                if sizes[name] is None:
                    object.__setattr__(self, name, default)
        elif any(size is not None for size in sizes.values()):
            given = ", ".join(f"{k}={v}" for k, v in sizes.items() if v is not None)
            raise ValueError(
                f"ExperimentConfig got {given} with dataset={self.dataset!r}, whose "
                "size is its own: n_samples, n_features and n_test apply to "
                "synthetic data only. Leave them None; results report the sizes "
                "that were used."
            )
        if self.data_home is not None:
            object.__setattr__(self, "data_home", str(self.data_home))

    @classmethod
    def field_names(cls):
        """Names of the settings, in the order of the CSV columns."""
        return [field.name for field in fields(cls)]


# The learning rates of a sweep come from its grid; the settings after them
# change where a run is computed, not its outcome, so no panel varies them
# (a sweep can still set them for all its runs).
_NOT_SET = ("lr_f", "lr_g")
_NOT_SWEPT = (*_NOT_SET, "device", "cosine", "data_home")
#: The settings a :class:`Sweep` can vary.
SWEEPABLE = tuple(n for n in ExperimentConfig.field_names() if n not in _NOT_SWEPT)


def _parse_optional(kind):
    return lambda text: None if text == "" else kind(text)


def _parse_bool(text):
    if text not in ("True", "False"):
        raise ValueError(f"expected True or False, got {text!r}")
    return text == "True"


# Settings whose default is None, with the type of their other values.
_OPTIONAL_TYPES = {
    "n_samples": int,
    "n_features": int,
    "n_test": int,
    "epochs_g": int,
    "data_home": str,
}


def _field_parsers():
    parsers = {}
    for item in fields(ExperimentConfig):
        if item.name in _OPTIONAL_TYPES:
            parsers[item.name] = _parse_optional(_OPTIONAL_TYPES[item.name])
        elif isinstance(item.default, bool):
            parsers[item.name] = _parse_bool
        else:
            parsers[item.name] = type(item.default)
    parsers.update({name: _parse_optional(float) for name in METRICS})
    return parsers


_PARSERS = _field_parsers()


def _setting_type(name):
    """The type of the values of the setting ``name``, other than None."""
    default = next(item.default for item in fields(ExperimentConfig) if item.name == name)
    return _OPTIONAL_TYPES.get(name, type(default))


def parse_setting(name, text):
    """Read the value of a setting from text, as the command line and CSV give it.

    Parameters
    ----------
    name : str
        A field of :class:`ExperimentConfig`.
    text : str
        Its value as text; ``""`` is None for the settings that default to
        None.

    Returns
    -------
    value : int, float, str, bool or None
        The value, of the type of the setting.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import parse_setting
    >>> parse_setting("hidden_dim", "100"), parse_setting("epsilon", "0.01")
    (100, 0.01)
    """
    if name not in ExperimentConfig.field_names():
        raise ValueError(
            f"Unknown setting {name!r}; choose one of {ExperimentConfig.field_names()}."
        )
    try:
        return _PARSERS[name](text)
    except ValueError:
        raise ValueError(
            f"The setting {name} takes a value of type "
            f"{_setting_type(name).__name__}, got {text!r}."
        ) from None
