"""The paper's experiments: single runs, the authors' presets, and sweeps.

A *run* draws (or loads) a training set D and a test set from the same
distribution, fits a :class:`PerturbationLearningClassifier` (f on D, g on the
adversarial examples of f alone) and reports what the paper reports: f's
accuracy on D, g's accuracy on D with the true labels, both accuracies on the
test set, the agreement of f and g there, and on request the cosine similarity
of f's perturbations to the direction of theorem 3.3.

A *preset* (:data:`PRESETS`) is one of the authors' configurations with the
one-parameter *sweeps* of its figures. Every point of a sweep is run for every
pair ``(lr_f, lr_g)`` of the preset's learning-rate grid and reported at the
best pair. :func:`run_experiments` runs many configurations through joblib
(and so on a dask cluster) and appends every finished run to a CSV file at
once, so that an interrupted sweep resumes where it stopped.
"""

import csv
import math
import tempfile
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from itertools import product
from numbers import Integral, Real
from pathlib import Path
from time import perf_counter

import numpy as np
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from ._network import LOSSES
from .classifier import WideTwoLayerNetClassifier
from .datasets import (
    load_digits_pair,
    load_fashion_mnist_pair,
    load_mnist_pair,
    make_gaussian,
    make_shifted_gaussian,
)
from .metrics import agreement_score
from .perturbation import NORMS, TARGET_STRATEGIES
from .perturbation_learning import PerturbationLearningClassifier
from .theory import decision_map, direction_cosine_similarity

DATASETS = ("shifted-gaussian", "gaussian", "digits", "mnist", "fashion-mnist")
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
    n_samples : int, default=1000
        Training samples N of synthetic data.
    n_features : int, default=100
        Input dimension d of synthetic data.
    n_test : int, default=1000
        Test samples of synthetic data.
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
    device : str, default="cpu"
    seed : int, default=0
        Seeds the data, the networks, the targets and the noise.
    cosine : bool, default=False
        Also measure the cosine similarity of f's perturbations to the
        direction of theorem 3.3 (scenarios a and b only).
    """

    dataset: str = "shifted-gaussian"
    scenario: str = "a"
    n_samples: int = 1000
    n_features: int = 100
    n_test: int = 1000
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
    device: str = "cpu"
    seed: int = 0
    cosine: bool = False

    _parameter_constraints = {
        "dataset": [StrOptions(set(DATASETS))],
        "scenario": [StrOptions(set(SCENARIOS))],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_test": [Interval(Integral, 1, None, closed="left")],
        "hidden_dim": [Interval(Integral, 1, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "slope": [Interval(Real, 0, 1, closed="left")],
        "lr_f": [Interval(Real, 0, None, closed="neither")],
        "lr_g": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "epochs_g": [Interval(Integral, 0, None, closed="left"), None],
        "targets": [StrOptions(set(TARGET_STRATEGIES))],
        "norm": [StrOptions(set(NORMS))],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "seed": [Interval(Integral, 0, 2**32 - 1, closed="both")],
        "cosine": ["boolean"],
    }

    def __post_init__(self):
        validate_parameter_constraints(
            self._parameter_constraints, asdict(self), caller_name="ExperimentConfig"
        )
        if self.cosine and self.scenario == "uniform":
            raise ValueError(
                "cosine=True compares the perturbation of every training point "
                "with theorem 3.3's direction there, but scenario='uniform' "
                "perturbs noise; use scenario 'a' or 'b'."
            )

    @classmethod
    def field_names(cls):
        """Names of the settings, in the order of the CSV columns."""
        return [field.name for field in fields(cls)]


def load_experiment_data(config):
    """Return ``(X_train, y_train, X_test, y_test)`` for ``config``.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import (
    ...     ExperimentConfig, load_experiment_data)
    >>> X, y, X_test, y_test = load_experiment_data(
    ...     ExperimentConfig(n_samples=10, n_features=3, n_test=4))
    >>> X.shape, X_test.shape, int(y.sum())
    ((10, 3), (4, 3), 0)
    """
    if config.dataset in ("shifted-gaussian", "gaussian"):
        make = make_shifted_gaussian if config.dataset == "shifted-gaussian" else make_gaussian
        # One stream for both draws: the training set is the same whatever
        # n_test is, so runs that differ only in n_test share f.
        rng = np.random.RandomState(config.seed)
        X, y = make(config.n_samples, config.n_features, random_state=rng)
        return (X, y, *make(config.n_test, config.n_features, random_state=rng))
    if config.dataset == "digits":
        from sklearn.model_selection import train_test_split

        X, y = load_digits_pair(1, 2)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=config.seed
        )
        return X_train, y_train, X_test, y_test
    load = load_mnist_pair if config.dataset == "mnist" else load_fashion_mnist_pair
    return (*load(subset="train"), *load(subset="test"))


def build_classifier(config, *, memory=None):
    """The :class:`PerturbationLearningClassifier` that ``config`` describes.

    Parameters
    ----------
    config : ExperimentConfig
        The settings.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches the fit of f (see :class:`PerturbationLearningClassifier`).

    Returns
    -------
    model : PerturbationLearningClassifier
        Unfitted; f and g are :class:`WideTwoLayerNetClassifier` with every
        training setting of the paper given explicitly.
    """
    network = WideTwoLayerNetClassifier(
        config.hidden_dim,
        slope=config.slope,
        loss=config.loss,
        solver="sgd",
        lr=config.lr_f,
        max_epochs=config.epochs,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        device=config.device,
    )
    epochs_g = config.epochs if config.epochs_g is None else config.epochs_g
    return PerturbationLearningClassifier(
        network,
        clone(network).set_params(lr=config.lr_g, max_epochs=epochs_g),
        epsilon=config.epsilon,
        norm=config.norm,
        steps=config.steps,
        targets=config.targets,
        base=SCENARIOS[config.scenario],
        # The paper attacks the data as they are.
        standardize=False,
        memory=memory,
        # The perturbations are kept only to compare them with the theory.
        store_adversarial=config.cosine,
        random_state=config.seed,
    )


def _measure(model, config, data):
    """The paper's numbers for a fitted ``model``, as a dict of floats."""
    X_train, y_train, X_test, y_test = data
    f, g = model.source_estimator_, model.estimator_
    f_test, g_test = f.predict(X_test), g.predict(X_test)
    cosine = None
    if config.cosine:
        perturbations = model.X_adv_ - X_train if config.scenario == "b" else model.X_adv_
        cosine = direction_cosine_similarity(
            X_train, y_train, perturbations, slope=config.slope, device=config.device
        )
    return {
        "f_train_accuracy": float(f.score(X_train, y_train)),
        "g_train_accuracy": float(g.score(X_train, y_train)),
        "f_test_accuracy": float((f_test == y_test).mean()),
        "g_test_accuracy": float((g_test == y_test).mean()),
        "agreement": float(agreement_score(f_test, g_test)),
        "cosine_similarity": cosine,
    }


def _fit(config, data=None, memory=None, *, keep_adversarial=False):
    """Fit the model of ``config``; return it, the data and the fit's seconds."""
    data = load_experiment_data(config) if data is None else data
    model = build_classifier(config, memory=memory)
    if keep_adversarial:
        model.set_params(store_adversarial=True)
    start = perf_counter()
    model.fit(data[0], data[1])
    return model, data, perf_counter() - start


def run_experiment(config=None, data=None, *, memory=None):
    """Run perturbation learning once and measure it.

    Parameters
    ----------
    config : ExperimentConfig, default=None
        The settings; None is the paper's sG(a) configuration.
    data : tuple of (X_train, y_train, X_test, y_test), default=None
        Data to use instead of loading ``config.dataset``.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches the fit of f, so that runs differing only in g's settings or
        the attack fit f once.

    Returns
    -------
    result : dict
        Every setting of ``config``, then ``f_train_accuracy`` (f on D),
        ``g_train_accuracy`` (g on D with the true labels), ``f_test_accuracy``,
        ``g_test_accuracy``, ``agreement`` (of f and g on the test set),
        ``cosine_similarity`` (``mean_n |cos(r_n, q_n)|`` of theorem 3.3, or
        None unless ``config.cosine``) and ``seconds`` (wall time of the fit;
        a cached f costs only its loading).

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, run_experiment
    >>> result = run_experiment(ExperimentConfig(n_samples=200, epochs=50))
    >>> sorted(k for k in result if "accuracy" in k)
    ['f_test_accuracy', 'f_train_accuracy', 'g_test_accuracy', 'g_train_accuracy']
    >>> result["agreement"] > 0.9
    True
    """
    config = ExperimentConfig() if config is None else config
    model, data, seconds = _fit(config, data, memory)
    return {**asdict(config), **_measure(model, config, data), "seconds": seconds}


def run_decision_map(config, *, limits=(-7.0, 7.0), resolution=400):
    """Run ``config`` once and compute the decision map of its f and g.

    Parameters
    ----------
    config : ExperimentConfig
        The settings; ``scenario`` must be "a" or "b".
    limits : tuple of two floats, default=(-7.0, 7.0)
        Coordinate range of the map on both axes.
    resolution : int, default=400
        Grid points along each axis.

    Returns
    -------
    result : dict
        As :func:`run_experiment` returns it.
    map : Bunch
        :func:`~sklearn_pertlearn.theory.decision_map` of f and g, with
        ``hat_g`` of the adversarial examples g was trained on; draw it with
        :func:`~sklearn_pertlearn.plotting.plot_decision_map`.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, run_decision_map
    >>> result, dmap = run_decision_map(
    ...     ExperimentConfig(n_samples=100, n_features=20, epochs=20), resolution=20)
    >>> dmap.agreement.shape
    (20, 20)
    """
    if config.scenario == "uniform":
        raise ValueError(
            "A decision map needs the adversarial example of every training "
            "point; use scenario 'a' or 'b', not 'uniform'."
        )
    model, data, seconds = _fit(config, keep_adversarial=True)
    result = {**asdict(config), **_measure(model, config, data), "seconds": seconds}
    dmap = decision_map(
        data[0],
        data[1],
        model.source_estimator_,
        model.estimator_,
        X_adv=model.X_adv_,
        limits=limits,
        resolution=resolution,
        slope=config.slope,
        device=config.device,
    )
    return result, dmap


# ---------------------------------------------------------------------------
# Results files

# Settings that change where or how a run is computed, not its outcome: two
# rows that differ only in them are the same run.
_NOT_IN_KEY = ("device", "cosine")
_KEY_FIELDS = [name for name in ExperimentConfig.field_names() if name not in _NOT_IN_KEY]
# What f depends on: runs that agree here share f (and its cached fit).
_F_FIELDS = (
    "dataset",
    "n_samples",
    "n_features",
    "hidden_dim",
    "loss",
    "slope",
    "lr_f",
    "epochs",
    "seed",
    "device",
)
COLUMNS = (*ExperimentConfig.field_names(), *METRICS)


def _parse_optional(kind):
    return lambda text: None if text == "" else kind(text)


def _parse_bool(text):
    if text not in ("True", "False"):
        raise ValueError(f"expected True or False, got {text!r}")
    return text == "True"


def _field_parsers():
    parsers = {}
    for item in fields(ExperimentConfig):
        default = item.default
        if item.name == "epochs_g":
            parsers[item.name] = _parse_optional(int)
        elif isinstance(default, bool):
            parsers[item.name] = _parse_bool
        else:
            parsers[item.name] = type(default)
    parsers.update({name: _parse_optional(float) for name in METRICS})
    return parsers


_PARSERS = _field_parsers()


def parse_setting(name, text):
    """Read the value of a setting from text, as the command line and CSV give it.

    Parameters
    ----------
    name : str
        A field of :class:`ExperimentConfig`.
    text : str
        Its value as text; ``""`` is None for ``epochs_g``.

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
        kind = type(getattr(ExperimentConfig(), name) if name != "epochs_g" else 0)
        raise ValueError(
            f"The setting {name} takes a value of type {kind.__name__}, got {text!r}."
        ) from None


def _key(settings):
    """Identity of a run: its settings (a config or a result), normalised."""
    return tuple(
        None if settings[name] is None else _PARSERS[name](str(settings[name]))
        for name in _KEY_FIELDS
    )


class _ResultsFile:
    """A CSV file of results, one row per finished run, appended run by run.

    Every row is written and flushed with its own ``open``, so a process that
    is killed leaves every finished row on disk; a row cut short by the kill
    is dropped the next time the file is read.
    """

    def __init__(self, path):
        self.path = Path(path)

    def read(self):
        """Return the finished runs in the file, as typed result dicts."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        self._drop_partial_row()
        with self.path.open(newline="") as file:
            reader = csv.reader(file)
            header = tuple(next(reader, ()))
            if header != COLUMNS:
                raise ValueError(
                    f"{str(self.path)!r} is not a results file of this version: its "
                    f"columns are {list(header)}, expected {list(COLUMNS)}. Choose "
                    "another output path."
                )
            rows = []
            for number, row in enumerate(reader, start=2):
                try:
                    if len(row) != len(COLUMNS):
                        raise ValueError(f"{len(row)} fields, expected {len(COLUMNS)}")
                    rows.append({name: _PARSERS[name](text) for name, text in zip(COLUMNS, row)})
                except ValueError as exc:
                    raise ValueError(
                        f"Line {number} of {str(self.path)!r} is not a result row ({exc})."
                    ) from exc
            return rows

    def _drop_partial_row(self):
        with self.path.open("rb+") as file:
            data = file.read()
            if not data.endswith(b"\n"):
                warnings.warn(
                    f"{str(self.path)!r} ends with an incomplete row (an interrupted "
                    "write); it is dropped and that run is done again.",
                    stacklevel=3,
                )
                file.truncate(data.rfind(b"\n") + 1)

    def append(self, result):
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(COLUMNS)
            # str(float) is the shortest repr that reads back to the same float.
            writer.writerow("" if result[name] is None else result[name] for name in COLUMNS)


# ---------------------------------------------------------------------------
# Many runs


def _run_or_fail(config, memory):
    """Run ``config``; return ``(result, None)`` or ``(config, error message)``.

    A ValueError of one run (a training set of one class, target labels of
    one class) must not stop the others.
    """
    try:
        return run_experiment(config, memory=memory), None
    except ValueError as exc:
        return config, str(exc)


def _merge(configs):
    """Unique runs in first-seen order; a run asked once with cosine keeps it."""
    merged = {}
    for config in configs:
        key = _key(asdict(config))
        if key in merged and not config.cosine:
            continue
        if key not in merged or not merged[key].cosine:
            merged[key] = config
    return list(merged.values())


def _cache_friendly_order(configs):
    """Put the first run of every f first, so that the others find f cached.

    Parallel workers take runs in order: after the leaders, every run finds
    its f in the cache instead of fitting it beside another worker. Within
    each rank the longest runs go first, so that no worker is left with a
    long run while the others idle at the end.
    """
    rank, seen = {}, {}
    for index, config in enumerate(configs):
        f_key = tuple(getattr(config, name) for name in _F_FIELDS)
        rank[index] = seen.get(f_key, 0)
        seen[f_key] = rank[index] + 1

    def expected_cost(index):
        # Epochs times the multiply-adds of one epoch, which dominate.
        config = configs[index]
        epochs_g = config.epochs if config.epochs_g is None else config.epochs_g
        epochs = epochs_g + (config.epochs if rank[index] == 0 else 0)
        return epochs * config.n_samples * config.n_features * config.hidden_dim

    order = sorted(range(len(configs)), key=lambda i: (rank[i], -expected_cost(i)))
    return [configs[i] for i in order]


@contextmanager
def _cache(memory):
    if memory is None:
        with tempfile.TemporaryDirectory(prefix="pertlearn-f-cache-") as folder:
            yield folder
    else:
        yield None if memory is False else memory


def _backend(scheduler):
    """joblib's dask backend on the cluster at ``scheduler``, or nothing."""
    if scheduler is None:
        return nullcontext()

    @contextmanager
    def connected():
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError(
                "Running on a dask cluster needs dask.distributed, which is not "
                "installed. Install it with `pip install sklearn-pertlearn[distributed]`."
            ) from exc
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConnectionError(
                f"Could not connect to the dask scheduler at {scheduler!r}: {exc}"
            ) from exc
        with client, parallel_config(backend="dask"):
            yield

    return connected()


def run_experiments(
    configs,
    output=None,
    *,
    n_jobs=None,
    scheduler=None,
    memory=None,
    progress=False,
):
    """Run many experiments in parallel, resumably.

    Runs go through :class:`joblib.Parallel`, so they spread over local
    processes (``n_jobs``) or a dask cluster (``scheduler``). With ``output``
    every finished run is appended to a CSV file and flushed at once; runs
    already in the file are not run again, so a sweep that was interrupted,
    even killed, resumes where it stopped.

    Parameters
    ----------
    configs : iterable of ExperimentConfig
        The runs. Runs that differ only in ``device`` or ``cosine`` are one
        run (measured with the cosine similarity if any asks for it).
    output : str or path-like, default=None
        CSV file of results (one row per run: every setting, then
        :data:`METRICS`), created if missing and appended to.
    n_jobs : int, default=None
        Number of parallel jobs, as in scikit-learn; None means 1, or all the
        workers of a cluster. Each local worker runs torch with
        ``cpu_count // n_jobs`` threads (joblib's rule).
    scheduler : str, default=None
        Address of a ``dask.distributed`` scheduler (for example
        ``"tcp://10.0.0.5:8786"``): the runs go through joblib's dask backend.
        Workers must be able to import this package.
    memory : str, path-like, joblib.Memory or False, default=None
        Where the fits of f are cached, so that runs sharing f (other
        ``lr_g``, ``epsilon``, ``epochs_g``, targets or scenario) fit it once.
        None uses a temporary folder on this machine, removed at the end; on
        a cluster of several machines pass a folder that every worker can
        reach. False does not cache.
    progress : bool, default=False
        Show a progress bar over runs on stderr.

    Returns
    -------
    results : list of dict
        One result per unique run, in the order of ``configs`` (see
        :func:`run_experiment`), read from ``output`` for runs that were
        already there. A run whose fit raised a ValueError (such as a
        training set of a single class) is left out, with a warning, and is
        tried again the next time.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, run_experiments
    >>> base = ExperimentConfig(n_samples=100, n_features=20, epochs=20)
    >>> results = run_experiments(
    ...     [replace(base, hidden_dim=m) for m in (10, 100)])
    >>> [result["hidden_dim"] for result in results]
    [10, 100]
    """
    configs = _merge(configs)
    results_file = None if output is None else _ResultsFile(output)
    found = {}
    for row in [] if results_file is None else results_file.read():
        key = _key(row)
        if key not in found or row["cosine_similarity"] is not None:
            found[key] = row
    todo = []
    for config in configs:
        row = found.get(_key(asdict(config)))
        if row is None or (config.cosine and row["cosine_similarity"] is None):
            todo.append(config)
    failures = []
    if todo:
        from tqdm.auto import tqdm

        # The bar starts once the cluster is reached, so that a failed
        # connection is reported alone.
        with _cache(memory) as cache, _backend(scheduler), tqdm(
            total=len(configs),
            initial=len(configs) - len(todo),
            unit="run",
            disable=not progress,
        ) as bar:
            runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_run_or_fail)(config, cache)
                for config in _cache_friendly_order(todo)
            )
            for result, error in runs:
                if error is None:
                    found[_key(result)] = result
                    if results_file is not None:
                        results_file.append(result)
                else:
                    failures.append((result, error))
                bar.update()
    if failures:
        if len(failures) == len(todo) == len(configs):
            raise ValueError(f"Every run failed; the first: {failures[0][1]}")
        config, error = failures[0]
        warnings.warn(
            f"{len(failures)} of {len(configs)} runs failed and are left out; "
            f"the first ({_describe(config)}): {error}",
            stacklevel=2,
        )
    return [found[key] for key in map(_key, map(asdict, configs)) if key in found]


def _describe(config):
    defaults = ExperimentConfig()
    return ", ".join(
        f"{name}={getattr(config, name)!r}"
        for name in ExperimentConfig.field_names()
        if getattr(config, name) != getattr(defaults, name)
    ) or "the defaults"


# ---------------------------------------------------------------------------
# Presets and sweeps

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
# The learning rates come from the grid; device and cosine change no outcome.
_NOT_SWEPT = ("lr_f", "lr_g", "device", "cosine")


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
        allowed = [n for n in ExperimentConfig.field_names() if n not in _NOT_SWEPT]
        for name in (self.param, *self.linked, *self.settings):
            if name not in allowed:
                raise ValueError(
                    f"Cannot sweep or set {name!r}: it must be one of {allowed} "
                    "(the learning rates come from the learning-rate grid)."
                )
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
        """Every run of ``sweeps`` (default: the accuracy figure's), once each."""
        sweeps = self.sweeps if sweeps is None else sweeps
        return _merge(
            config
            for sweep in sweeps
            for point in self.configs(sweep)
            for config in point
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


def summarize_sweep(preset, sweep, results, *, select="g_train_accuracy"):
    """Reduce the runs of ``sweep`` to one line per value, at the best pair.

    Parameters
    ----------
    preset : Preset
        The preset the sweep varies.
    sweep : Sweep
        The sweep.
    results : list of dict
        Results that include the sweep's runs (from :func:`run_experiments`).
    select : {"g_train_accuracy", "max"}, default="g_train_accuracy"
        ``"g_train_accuracy"`` reports every point at the learning-rate pair
        where g classifies D best (the first such pair of the grid on a tie),
        so that all numbers of a point come from one run. ``"max"`` takes the
        maximum of every metric over the pairs separately, as the authors'
        figure notebooks do.

    Returns
    -------
    summary : Bunch
        ``name``, ``param``, ``label`` and ``title`` of the sweep;
        ``param_values``, the values of the swept setting; for every metric
        of :data:`METRICS` an array with one value per point; ``lr_f`` and
        ``lr_g`` of the selected pair (NaN with ``select="max"``). A point
        without any finished run is NaN.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import (
    ...     PRESETS, run_experiments, summarize_sweep)
    >>> preset = PRESETS["sG-a"].quick()
    >>> sweep = preset.sweeps[2]
    >>> summary = summarize_sweep(
    ...     preset, sweep, run_experiments(preset.runs([sweep])))
    >>> summary.param, summary.param_values.tolist(), summary.agreement.shape
    ('hidden_dim', [1, 7, 50], (3,))
    """
    if select not in ("g_train_accuracy", "max"):
        raise ValueError(
            f"select must be 'g_train_accuracy' or 'max', got {select!r}."
        )
    by_key = {_key(result): result for result in results}
    columns = {name: [] for name in (*METRICS, "lr_f", "lr_g")}
    for point in preset.configs(sweep):
        runs = [by_key[k] for k in map(_key, map(asdict, point)) if k in by_key]
        values = {
            name: np.array(
                [np.nan if run[name] is None else run[name] for run in runs], dtype=float
            )
            for name in columns
        }
        for name, column in columns.items():
            if not runs:
                column.append(np.nan)
            elif select == "max":
                measured = values[name][~np.isnan(values[name])]
                selected = name.startswith("lr_") or measured.size == 0
                column.append(np.nan if selected else measured.max())
            else:
                column.append(values[name][np.argmax(values["g_train_accuracy"])])
    return Bunch(
        name=sweep.name,
        param=sweep.param,
        label=sweep.label,
        title=sweep.title,
        param_values=np.asarray(sweep.values),
        **{name: np.asarray(column) for name, column in columns.items()},
    )


def run_sweeps(
    preset,
    sweeps=None,
    output=None,
    *,
    select="g_train_accuracy",
    **parallel,
):
    """Run the sweeps of a preset and summarize them, panel by panel.

    Parameters
    ----------
    preset : Preset
        The preset, for example ``PRESETS["sG-a"]`` or its ``quick()``.
    sweeps : tuple of Sweep, default=None
        The panels; None is ``preset.sweeps``.
    output : str or path-like, default=None
        Results file, see :func:`run_experiments`.
    select : {"g_train_accuracy", "max"}, default="g_train_accuracy"
        How a point is reported, see :func:`summarize_sweep`.
    **parallel
        ``n_jobs``, ``scheduler``, ``memory`` and ``progress`` of
        :func:`run_experiments`.

    Returns
    -------
    result : Bunch
        ``results`` (every run, as :func:`run_experiments` returns them) and
        ``panels`` (one :func:`summarize_sweep` summary per sweep).
    """
    sweeps = preset.sweeps if sweeps is None else sweeps
    results = run_experiments(preset.runs(sweeps), output, **parallel)
    panels = [summarize_sweep(preset, sweep, results, select=select) for sweep in sweeps]
    return Bunch(results=results, panels=panels)


def reproduce(figure, output=None, *, quick=False, resolution=400, **options):
    """Run everything one of the paper's figures needs.

    Parameters
    ----------
    figure : str
        A key of :data:`FIGURES`: ``"sG-a"`` (accuracies and agreement against
        every swept setting), ``"sG-a-cosine"`` or ``"sG-a-map"``, and so on
        for every preset.
    output : str or path-like, default=None
        Results file, see :func:`run_experiments`.
    quick : bool, default=False
        Run the preset's :meth:`Preset.quick` version, a smoke test.
    resolution : int, default=400
        Grid points along each axis of a decision map (50 when quick).
    **options
        ``select`` of :func:`run_sweeps` and ``n_jobs``, ``scheduler``,
        ``memory`` and ``progress`` of :func:`run_experiments`; a decision
        map is a single run and uses none of them.

    Returns
    -------
    result : Bunch
        ``figure``, ``kind`` ("accuracy", "cosine" or "map"), ``preset``,
        ``results``; ``panels`` for the sweep figures and ``decision_map``
        for a map.
    """
    if figure not in FIGURES:
        raise ValueError(f"Unknown figure {figure!r}; choose one of {list(FIGURES)}.")
    preset_name, kind = FIGURES[figure]
    preset = PRESETS[preset_name].quick() if quick else PRESETS[preset_name]
    if kind == "map":
        result, dmap = run_decision_map(
            preset.map_config,
            limits=preset.map_limits,
            resolution=min(resolution, 50) if quick else resolution,
        )
        if output is not None:
            results_file = _ResultsFile(output)
            if _key(result) not in {_key(row) for row in results_file.read()}:
                results_file.append(result)
        return Bunch(
            figure=figure, kind=kind, preset=preset, results=[result], decision_map=dmap
        )
    sweeps = preset.sweeps if kind == "accuracy" else preset.cosine_sweeps
    return Bunch(
        figure=figure, kind=kind, preset=preset, **run_sweeps(preset, sweeps, output, **options)
    )
