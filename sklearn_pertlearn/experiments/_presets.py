"""The catalogue of the authors' configurations, the sweeps of their figures.

A :class:`Sweep` varies one setting around a :class:`Preset`: one panel of a
figure. :data:`PRESETS` holds the configurations of the authors' scripts and
:data:`FIGURES` the figures made from them. Nothing here imports torch.
"""

import math
from dataclasses import dataclass, field, replace
from itertools import product

import numpy as np

from ._config import _NOT_SET, SWEEPABLE, ExperimentConfig
from ._results import _merge

# Axis labels of the swept settings.
_LABELS = {
    "n_features": "input dimension d",
    "hidden_dim": "width m",
    "slope": "slope gamma",
    "n_samples": "samples N",
    "epochs": "epochs of f",
    "epochs_g": "epochs of g",
    "epsilon": "epsilon",
}


def _check_settings(settings):
    """Refuse settings a sweep cannot change for all its runs."""
    for name in settings:
        if name in _NOT_SET or name not in ExperimentConfig.field_names():
            allowed = [n for n in ExperimentConfig.field_names() if n not in _NOT_SET]
            raise ValueError(
                f"Cannot set {name!r}: it must be one of {allowed} (the "
                "learning rates come from the learning-rate grid)."
            )


@dataclass(frozen=True)
class Sweep:
    """A one-parameter sweep around a preset: one panel of a figure.

    Parameters
    ----------
    param : str
        The :class:`ExperimentConfig` setting that varies.
    values : tuple
        Its values, in the order of the x axis.
    linked : dict of str to tuple, default={}
        Settings that vary with ``param``, one value per value of ``param``
        (the authors scale epsilon with the input dimension).
    settings : dict, default={}
        Settings that differ from the preset for the whole sweep, such as
        ``{"loss": "logistic"}``.
    learning_rates : tuple of (lr_f, lr_g) pairs, default=None
        The pairs to try at every point; None is the preset's grid.
    cosine : bool, default=False
        Measure the cosine similarity of theorem 3.3 at every point.
    """

    param: str
    values: tuple
    linked: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    learning_rates: tuple = None
    cosine: bool = False

    def __post_init__(self):
        for name in (self.param, *self.linked):
            if name not in SWEEPABLE:
                raise ValueError(
                    f"Cannot sweep {name!r}: it must be one of {list(SWEEPABLE)} "
                    "(the learning rates come from the learning-rate grid)."
                )
        _check_settings(self.settings)
        if len(self.values) == 0:
            raise ValueError(f"The sweep over {self.param!r} has no values.")
        for name, values in self.linked.items():
            if len(values) != len(self.values):
                raise ValueError(
                    f"linked[{name!r}] has {len(values)} values, but {self.param!r} "
                    f"has {len(self.values)}; they must match."
                )

    @property
    def name(self):
        """Short identifier, such as ``"n_features"`` or ``"n_features-logistic"``."""
        return "-".join([self.param, *map(str, self.settings.values())])

    @property
    def label(self):
        """Axis label of the swept setting."""
        return _LABELS.get(self.param, self.param)

    @property
    def title(self):
        """Panel title: the swept setting and what differs from the preset."""
        changes = [f"{name}={value}" for name, value in self.settings.items()]
        if self.learning_rates is not None:
            changes.append(
                "(lr_f, lr_g) in " + ", ".join(f"({a:g}, {b:g})" for a, b in self.learning_rates)
            )
        return self.label + (f" ({'; '.join(changes)})" if changes else "")

    def quick(self):
        """A smoke-test version of the sweep.

        Values are capped as :meth:`Preset.quick` caps the configuration, then
        at most three are kept: the first, the middle and the last.

        Examples
        --------
        >>> from sklearn_pertlearn.experiments import Sweep
        >>> Sweep("hidden_dim", (1, 10, 100, 1000)).quick().values
        (1, 10, 50)
        """
        cap = _QUICK_CAPS.get(self.param)
        values = [v if cap is None else min(v, cap) for v in self.values]
        # Capping can repeat a value; keep its first point.
        kept = [i for i, v in enumerate(values) if v not in values[:i]]
        middle = np.linspace(0, len(kept) - 1, _QUICK_POINTS)
        kept = [kept[j] for j in sorted({round(j) for j in middle})]
        return replace(
            self,
            values=tuple(values[i] for i in kept),
            linked={name: tuple(vs[i] for i in kept) for name, vs in self.linked.items()},
            settings={
                name: min(value, _QUICK_CAPS[name]) if name in _QUICK_CAPS else value
                for name, value in self.settings.items()
            },
        )


def _cut_to_two_digits(value):
    """``value`` cut down to two significant digits, as the authors' scripts did."""
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(value)) - 1
    # The tiny bump keeps a float just under an integer (2.9999...) from
    # being cut a whole digit down.
    return float(round(math.floor(value / 10**exponent + 1e-9) * 10**exponent, max(0, -exponent)))


def _dimension_sweep(dimensions, scale, **kwargs):
    """Input dimension d with epsilon = sqrt(d) * scale, as in the paper."""
    epsilons = tuple(_cut_to_two_digits(math.sqrt(d) * scale) for d in dimensions)
    return Sweep("n_features", tuple(dimensions), linked={"epsilon": epsilons}, **kwargs)


def _steps(start, stop, count):
    """``count`` evenly spaced values from ``start`` to ``stop``, clean floats."""
    return tuple(round(float(v), 6) for v in np.linspace(start, stop, count))


_DECADES = (*range(1, 11), *range(20, 101, 10), *range(200, 1001, 100))
_WIDTHS = _DECADES
_REAL_WIDTHS = _DECADES[9:]
_SAMPLES = (2, 4, 6, 8, *_DECADES[9:], *range(2000, 10001, 1000))
_SLOPES = (0.0, 0.25, 0.5, 0.75, 0.99)
_SHORT_EPOCHS = _DECADES[:19]


@dataclass(frozen=True)
class Preset:
    """One of the authors' configurations and the sweeps of its figures.

    Parameters
    ----------
    name : str
        Its name in :data:`PRESETS`, such as ``"sG-a"``.
    description : str
        One line on what it is.
    config : ExperimentConfig
        The configuration every sweep varies.
    learning_rates : tuple of float
        The grid: every point is run for every pair ``(lr_f, lr_g)`` of these.
    sweeps : tuple of Sweep
        The panels of the accuracy and agreement figure.
    cosine_sweeps : tuple of Sweep, default=()
        The panels of the cosine-similarity figure.
    map_config : ExperimentConfig, default=None
        The run of the decision map (the authors train it shorter or wider).
    map_limits : tuple of two floats, default=(-7.0, 7.0)
        Coordinate range of the decision map.
    """

    name: str
    description: str
    config: ExperimentConfig
    learning_rates: tuple
    sweeps: tuple
    cosine_sweeps: tuple = ()
    map_config: ExperimentConfig = None
    map_limits: tuple = (-7.0, 7.0)

    @property
    def lr_pairs(self):
        """Every pair ``(lr_f, lr_g)`` of the learning-rate grid."""
        return tuple(product(self.learning_rates, repeat=2))

    def configs(self, sweep):
        """The runs of ``sweep``: one list per value, one config per pair.

        Parameters
        ----------
        sweep : Sweep
            One of the preset's sweeps, or another over its configuration.

        Returns
        -------
        list of list of ExperimentConfig

        Examples
        --------
        >>> from sklearn_pertlearn.experiments import PRESETS
        >>> preset = PRESETS["sG-a"]
        >>> points = preset.configs(preset.sweeps[0])
        >>> len(points), len(points[0])
        (10, 4)
        >>> points[0][0].n_features, points[0][0].epsilon
        (10, 0.0031)
        """
        base = replace(self.config, **sweep.settings)
        pairs = sweep.learning_rates if sweep.learning_rates is not None else self.lr_pairs
        points = []
        for index, value in enumerate(sweep.values):
            point = replace(
                base,
                **{sweep.param: value},
                **{name: values[index] for name, values in sweep.linked.items()},
                cosine=sweep.cosine,
            )
            points.append([replace(point, lr_f=lr_f, lr_g=lr_g) for lr_f, lr_g in pairs])
        return points

    def runs(self, sweeps=None):
        """Every run of ``sweeps``, once each.

        Parameters
        ----------
        sweeps : list of Sweep, default=None
            None is the preset's own sweeps (the accuracy figure's).

        Returns
        -------
        list of ExperimentConfig
        """
        sweeps = self.sweeps if sweeps is None else sweeps
        return _merge(
            config
            for sweep in sweeps
            for point in self.configs(sweep)
            for config in point
        )

    def with_settings(self, **settings):
        """The preset with ``settings`` changed in every run, the map's included.

        For settings that change where a run is computed, not what it
        computes (``device``, ``data_home``); the learning rates come from
        the grid.

        Parameters
        ----------
        **settings
            Fields of :class:`ExperimentConfig` and their values.

        Returns
        -------
        Preset

        Examples
        --------
        >>> from sklearn_pertlearn.experiments import PRESETS
        >>> preset = PRESETS["MNIST-a"].with_settings(data_home="/data")
        >>> preset.config.data_home, preset.map_config.data_home
        ('/data', '/data')
        """
        _check_settings(settings)
        return replace(
            self,
            config=replace(self.config, **settings),
            map_config=self.map_config and replace(self.map_config, **settings),
        )

    def quick(self):
        """A smoke-test version: small data, few epochs, three points a sweep.

        Synthetic sizes are capped (N at 200, d at 50, width at 50, test set at
        200), epochs at 20, and every sweep keeps its first, middle and last
        value within those caps. Real data sets keep their size.
        """
        return replace(
            self,
            config=_quick_config(self.config),
            sweeps=tuple(sweep.quick() for sweep in self.sweeps),
            cosine_sweeps=tuple(sweep.quick() for sweep in self.cosine_sweeps),
            map_config=self.map_config and _quick_config(self.map_config),
        )


_QUICK_CAPS = {
    "n_samples": 200,
    "n_features": 50,
    "n_test": 200,
    "hidden_dim": 50,
    "epochs": 20,
    "epochs_g": 20,
}
_QUICK_POINTS = 3


def _quick_config(config):
    return replace(
        config,
        **{
            name: min(getattr(config, name), cap)
            for name, cap in _QUICK_CAPS.items()
            if getattr(config, name) is not None
        },
    )


def _synthetic_presets():
    logistic = {"loss": "logistic"}
    sg_a = ExperimentConfig(
        dataset="shifted-gaussian", scenario="a", n_samples=1000, n_features=100,
        hidden_dim=100, epsilon=0.01, loss="identity", lr_f=1.0, lr_g=1.0,
        epochs=1000, epochs_g=1000, seed=0,
    )
    sg_a_dims = _dimension_sweep(range(10, 101, 10), 0.001, cosine=True)
    sg_b = replace(sg_a, scenario="b", n_samples=10000, n_features=5000, epsilon=0.7, seed=1)
    sg_b_dims = (*range(10, 101, 10), *range(200, 1001, 100), *range(2000, 5001, 1000))
    g_a = replace(
        sg_a, dataset="gaussian", n_samples=10000, n_features=10000, epsilon=0.1
    )
    g_dims = (*range(100, 1001, 100), *range(2000, 10001, 1000))
    g_a_dims = _dimension_sweep(g_dims, 0.001, cosine=True)
    g_b = replace(g_a, scenario="b", epsilon=10.0)
    return {
        "sG-a": Preset(
            "sG-a",
            "mean-shifted Gaussian, scenario a (perturbations alone)",
            sg_a,
            (1.0, 0.1),
            sweeps=(
                sg_a_dims,
                _dimension_sweep(range(10, 51, 5), 0.001, settings=logistic),
                Sweep("hidden_dim", _WIDTHS),
                Sweep("slope", _SLOPES),
                Sweep("n_samples", _SAMPLES),
                Sweep("epochs_g", _SHORT_EPOCHS),
                Sweep("epsilon", _steps(0.0, 0.01, 11)),
            ),
            cosine_sweeps=(
                sg_a_dims,
                Sweep("epochs", _DECADES[:10], learning_rates=((0.1, 1.0), (0.1, 0.1)),
                      cosine=True),
            ),
            map_config=replace(sg_a, epochs=100, epochs_g=100),
            map_limits=(-7.0, 7.0),
        ),
        "sG-b": Preset(
            "sG-b",
            "mean-shifted Gaussian, scenario b (perturbed data)",
            sg_b,
            (1.0, 0.1),
            sweeps=(
                _dimension_sweep(sg_b_dims, 0.01),
                Sweep("hidden_dim", _WIDTHS),
                Sweep("slope", _SLOPES),
                Sweep("n_samples", _SAMPLES),
                Sweep("epsilon", _steps(0.0, 0.7, 8)),
                Sweep("epochs", _DECADES[:10], learning_rates=((0.01, 1.0), (0.01, 0.1))),
                Sweep("epochs_g", _SHORT_EPOCHS, learning_rates=((1.0, 0.01), (0.1, 0.01))),
                _dimension_sweep(
                    sg_b_dims, 0.01, settings=logistic,
                    learning_rates=tuple(product((10.0, 5.0, 1.0, 0.1, 0.01), repeat=2)),
                ),
            ),
            map_config=replace(
                sg_b, n_samples=5000, n_features=100, epsilon=0.1, epochs=100, epochs_g=100
            ),
            map_limits=(-8.0, 8.0),
        ),
        "G-a": Preset(
            "G-a",
            "Gaussian with random labels, scenario a",
            g_a,
            (1.0, 0.1),
            sweeps=(
                g_a_dims,
                _dimension_sweep(g_dims, 0.001, settings=logistic),
                Sweep("hidden_dim", _WIDTHS),
                Sweep("slope", _SLOPES),
                Sweep("n_samples", _SAMPLES),
                Sweep("epochs_g", _SHORT_EPOCHS),
                Sweep("epsilon", _steps(0.0, 0.1, 11)),
            ),
            cosine_sweeps=(
                g_a_dims,
                Sweep("epochs", _SHORT_EPOCHS, learning_rates=((0.1, 1.0), (0.1, 0.1)),
                      cosine=True),
            ),
            map_config=replace(
                g_a, n_samples=2000, n_features=1000, hidden_dim=1000, epsilon=0.031
            ),
            map_limits=(-4.0, 5.0),
        ),
        "G-b": Preset(
            "G-b",
            "Gaussian with random labels, scenario b",
            g_b,
            (1.0, 0.1),
            sweeps=(
                _dimension_sweep(g_dims, 0.1),
                _dimension_sweep(g_dims, 0.1, settings=logistic),
                Sweep("hidden_dim", _WIDTHS),
                Sweep("slope", _SLOPES),
                Sweep("n_samples", _SAMPLES[4:]),
                Sweep("epsilon", _steps(0.0, 10.0, 11)),
                Sweep("epochs", _SHORT_EPOCHS, learning_rates=((0.1, 1.0), (0.1, 0.1))),
                Sweep("epochs_g", _SHORT_EPOCHS, learning_rates=((1.0, 0.1), (0.1, 0.1))),
            ),
            map_config=replace(
                g_b, n_features=1000, hidden_dim=1000, epsilon=0.31, lr_f=0.1, lr_g=0.1
            ),
            map_limits=(-4.0, 5.0),
        ),
    }


def _real_presets():
    logistic = {"loss": "logistic"}
    presets = {}
    for dataset, prefix, limits in (
        ("mnist", "MNIST", (0.0, 10.0)),
        ("fashion-mnist", "FMNIST", (-2.0, 13.0)),
    ):
        pair = "digits 1 vs 2" if dataset == "mnist" else "T-shirts vs ankle boots"
        a = ExperimentConfig(
            dataset=dataset, scenario="a", hidden_dim=100, epsilon=0.14,
            loss="identity", lr_f=0.01, lr_g=0.01, epochs=100, epochs_g=100, seed=0,
        )
        # The authors' scenario (b) seeds: MNIST 1, Fashion-MNIST 2; their
        # logistic MNIST (b) sweep uses seed 2.
        b = replace(a, scenario="b", seed=1 if dataset == "mnist" else 2)
        epochs_a = Sweep("epochs", _SHORT_EPOCHS, cosine=True)
        epsilons_a = (
            _steps(0.028, 0.14, 9) if dataset == "mnist" else _steps(0.0, 0.14, 11)
        )
        presets[f"{prefix}-a"] = Preset(
            f"{prefix}-a",
            f"{prefix} {pair}, scenario a",
            a,
            (0.01, 0.001),
            sweeps=(
                Sweep("hidden_dim", _REAL_WIDTHS),
                Sweep("slope", _SLOPES),
                epochs_a,
                Sweep("epochs_g", _DECADES[9:19]),
                Sweep("epsilon", epsilons_a),
                Sweep("epsilon", epsilons_a, settings=logistic),
            ),
            cosine_sweeps=(epochs_a,),
            map_config=replace(a, hidden_dim=1000, lr_f=0.01, lr_g=0.01),
            map_limits=limits,
        )
        presets[f"{prefix}-b"] = Preset(
            f"{prefix}-b",
            f"{prefix} {pair}, scenario b",
            b,
            (0.01, 0.001),
            sweeps=(
                Sweep("hidden_dim", _REAL_WIDTHS),
                Sweep("slope", _SLOPES),
                Sweep("epochs", _SHORT_EPOCHS),
                Sweep("epochs_g", _SHORT_EPOCHS if dataset == "mnist" else _DECADES[9:19]),
                Sweep("epsilon", _steps(0.0, 0.14, 11)),
                Sweep("epsilon", _steps(0.0, 1.4, 11), settings={**logistic, "seed": 2}),
            ),
            map_config=(
                replace(b, hidden_dim=1000, epochs=1000, epochs_g=1000)
                if dataset == "mnist"
                else replace(b, hidden_dim=1000, lr_f=0.001, lr_g=0.001, epsilon=1.4)
            ),
            map_limits=limits,
        )
    return presets


#: The authors' configurations by name (sG-a, sG-b, G-a, G-b, MNIST-a,
#: MNIST-b, FMNIST-a, FMNIST-b), with the sweeps of their scripts.
PRESETS = {**_synthetic_presets(), **_real_presets()}

#: Figures that :func:`reproduce` makes: ``PRESET`` (accuracies and agreement
#: against every swept setting), ``PRESET-cosine`` (cosine similarity to
#: theorem 3.3's direction) and ``PRESET-map`` (decision map).
FIGURES = {
    **{name: (name, "accuracy") for name in PRESETS},
    **{f"{name}-cosine": (name, "cosine") for name, p in PRESETS.items() if p.cosine_sweeps},
    **{f"{name}-map": (name, "map") for name in PRESETS},
}

