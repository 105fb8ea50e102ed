"""Sweeps reduced to one value per point, and the runs behind the paper's figures."""

from dataclasses import asdict

import numpy as np
from sklearn.utils import Bunch

from ._config import METRICS, SELECTIONS
from ._execution import run_experiments
from ._presets import FIGURES, PRESETS
from ._results import _key, _ResultsFile
from ._run import run_decision_map


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
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, got {select!r}.")
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


def reproduce(
    figure, output=None, *, quick=False, resolution=400, settings=None, **options
):
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
    settings : dict, default=None
        Settings changed in every run, such as ``{"device": "cuda"}`` or
        ``{"data_home": "/data/sklearn"}`` (see :meth:`Preset.with_settings`).
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
    preset = preset.with_settings(**(settings or {}))
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

