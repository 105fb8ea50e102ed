"""Many runs at once: through joblib on local processes or on a dask cluster."""

import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, replace
from pathlib import Path

import torch
from joblib import Parallel, delayed, parallel_config
from sklearn.exceptions import ConvergenceWarning

from ._config import ExperimentConfig
from ._files import _Lock
from ._results import _is_done, _key, _merge, _ResultsFile
from ._run import run_experiment
from ._workers import _end_with_parent

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
    "precision",
    "device",
)


def _run_one(config, memory=None):
    """:func:`run_experiment`; a run too large for its device's memory raises a
    MemoryError that says what to lower."""
    try:
        return run_experiment(config, memory=memory)
    except (MemoryError, RuntimeError) as exc:
        # torch raises OutOfMemoryError on a GPU (torch.cuda's name since
        # 1.13, torch's since 2.5), but a plain RuntimeError when the CPU
        # allocator fails (as of torch 2.13).
        if not isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)) and (
            "can't allocate memory" not in str(exc)
        ):
            raise
        # A real data set's sizes are None: its own, and not to be lowered.
        sizes = "" if config.n_samples is None else (
            f", N={config.n_samples}, d={config.n_features}"
        )
        raise MemoryError(
            f"The run does not fit in the memory of device {config.device!r} "
            f"(width {config.hidden_dim}{sizes}); lower hidden_dim (or n_samples "
            "or n_features of synthetic data), or run fewer runs at once "
            "(n_jobs): parallel runs share the memory."
        ) from exc


def _run_or_fail(config, memory):
    """Run ``config``; return ``(config, result, error, convergence warning)``.

    A ValueError of one run (a training set of one class, target labels of
    one class) must not stop the others, nor a run too large for the
    device's memory. A run's convergence warnings come back as the first
    one's message, for :func:`run_experiments` to sum up: the paper's sweeps
    hold runs meant to fail (epsilon 0, width 1), and every worker printing
    each of their warnings would bury the progress.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            outcome = _run_one(config, memory), None
        except (ValueError, MemoryError) as exc:
            outcome = None, str(exc)
    unconverged = None
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        elif unconverged is None:
            unconverged = str(warning.message)
    return (config, *outcome, unconverged)


def _spread_over_gpus(configs, n_jobs, scheduler):
    """Give the runs of ``device="cuda"`` the visible GPUs in turn, by their f.

    Local workers would all open their context on the first GPU; runs that
    share f go to one GPU, so that f's cache serves them. A cluster's
    workers each see the GPUs they were started with (``CUDA_VISIBLE_DEVICES``,
    see :ref:`scaling`), and ``"cuda:N"`` is kept as asked.
    """
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if scheduler is not None or count < 2 or n_jobs in (None, 1):
        return configs
    gpus = {}
    spread = []
    for config in configs:
        if config.device != "cuda":
            spread.append(config)
            continue
        f_key = tuple(getattr(config, name) for name in _F_FIELDS)
        gpu = gpus.setdefault(f_key, len(gpus) % count)
        spread.append(replace(config, device=f"cuda:{gpu}"))
    return spread


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
        # A real data set (sizes None) has one size for all its runs.
        size = (config.n_samples or 1) * (config.n_features or 1)
        return epochs * size * config.hidden_dim

    order = sorted(range(len(configs)), key=lambda i: (rank[i], -expected_cost(i)))
    return [configs[i] for i in order]


# Temporary caches of f: each holds the lock file _CACHE_LOCK while its sweep
# runs, so that one whose lock is free belongs to a sweep that was killed.
_CACHE_PREFIX = "pertlearn-f-cache-"
_CACHE_LOCK = ".lock"


def _remove_stale_caches():
    """Remove the temporary caches that killed sweeps left behind."""
    for folder in Path(tempfile.gettempdir()).glob(_CACHE_PREFIX + "*"):
        lock = _Lock(folder / _CACHE_LOCK)
        # A cache without a lock file is being made at this moment.
        try:
            stale = lock.path.exists() and lock.acquire()
        except OSError:
            continue  # another sweep removed it meanwhile
        if stale:
            lock.release()
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _cache(memory):
    if memory is not None:
        yield None if memory is False else memory
        return
    _remove_stale_caches()
    with tempfile.TemporaryDirectory(prefix=_CACHE_PREFIX) as folder:
        lock = _Lock(Path(folder) / _CACHE_LOCK)
        lock.acquire()
        try:
            yield folder
        finally:
            lock.release()


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
                'installed. Install it with `pip install "dask[distributed]"`, or from '
                'a checkout of sklearn-pertlearn with `pip install -e ".[distributed]"`.'
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
        :data:`METRICS`), created if missing and appended to. One process
        at a time writes it: it is held from the start (through the lock
        file ``NAME.lock`` beside it, which the system releases when the
        process ends, however it ends) and a second sweep on it is refused.
        A file that is not a results file of this version is refused as it
        is; only an interrupted last line (the start of the header or of a
        row) is dropped, with a warning.
    n_jobs : int, default=None
        Number of parallel jobs, as in scikit-learn; None means 1, or all the
        workers of a cluster. Each local worker runs torch with
        ``cpu_count // n_jobs`` threads (joblib's rule). On a machine of
        several GPUs, local runs of ``device="cuda"`` go to the GPUs in
        turn (the runs that share f to one), instead of all to the first.
    scheduler : str, default=None
        Address of a ``dask.distributed`` scheduler (for example
        ``"tcp://10.0.0.5:8786"``): the runs go through joblib's dask backend.
        Workers must be able to import this package.
    memory : str, path-like, joblib.Memory or False, default=None
        Where the fits of f are cached, so that runs sharing f (other
        ``lr_g``, ``epsilon``, ``epochs_g``, targets or scenario) fit it once.
        None uses a temporary folder on this machine, removed at the end (the
        folders of sweeps that were killed are removed by the next sweep);
        on a cluster of several machines pass a folder that every worker can
        reach. False does not cache.
    progress : bool, default=False
        Show a progress bar over runs on stderr.

    Returns
    -------
    results : list of dict
        One result per unique run, in the order of ``configs`` (see
        :func:`run_experiment`), read from ``output`` for runs that were
        already there. A run whose fit raised a ValueError (such as a
        training set of a single class) or ran out of memory is left out,
        with a warning, and is tried again the next time. Runs that ended with a
        :class:`~sklearn.exceptions.ConvergenceWarning` are kept, and one
        ConvergenceWarning at the end counts them.

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
    # The file is held from before it is read until the last run is written,
    # so that a second sweep on it cannot run the same runs again.
    with nullcontext() if results_file is None else results_file.writing():
        found = {} if results_file is None else results_file.finished()
        todo = [config for config in configs if not _is_done(config, found)]
        failures, unconverged_runs = [], []
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
                runs = Parallel(
                    n_jobs=n_jobs,
                    return_as="generator_unordered",
                    initializer=_end_with_parent,
                    initargs=(os.getpid(),),
                )(
                    delayed(_run_or_fail)(config, cache)
                    for config in _spread_over_gpus(
                        _cache_friendly_order(todo), n_jobs, scheduler
                    )
                )
                for config, result, error, unconverged in runs:
                    if error is None:
                        found[_key(result)] = result
                        if results_file is not None:
                            results_file.append(result)
                    else:
                        failures.append((config, error))
                    if unconverged is not None:
                        unconverged_runs.append((config, unconverged))
                    bar.update()
    if unconverged_runs:
        config, message = unconverged_runs[0]
        warnings.warn(
            f"{len(unconverged_runs)} of {len(todo)} runs ended with a convergence "
            "warning (the paper's sweeps hold settings meant to fail, such as "
            "epsilon 0 or width 1; run_experiment shows each one's warnings); "
            f"the first ({_describe(config)}): {message}",
            ConvergenceWarning,
            stacklevel=2,
        )
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
    # The settings that differ from the defaults; a None left in a validated
    # configuration is a setting that does not apply (the sizes of real data).
    defaults = ExperimentConfig()
    return ", ".join(
        f"{name}={getattr(config, name)!r}"
        for name in ExperimentConfig.field_names()
        if getattr(config, name) not in (None, getattr(defaults, name))
    ) or "the defaults"

