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

Layout, each module importing only those above it:

- ``_config.py``: :class:`ExperimentConfig`, the settings of one run, with
  the names it accepts (:data:`DATASETS`, :data:`SCENARIOS`), the settings a
  sweep can vary (:data:`SWEEPABLE`), the :data:`METRICS` a run reports, how
  a sweep's point is selected (:data:`SELECTIONS`) and :func:`parse_setting`.
- ``_results.py``: the identity of a run and the CSV results file
  (:data:`COLUMNS`) that a sweep appends to and resumes from.
- ``_presets.py``: :class:`Sweep`, :class:`Preset` and the catalogue of the
  authors' configurations, :data:`PRESETS` and :data:`FIGURES`.
- ``_run.py``: one run: :func:`load_experiment_data`,
  :func:`build_classifier`, :func:`run_experiment`, :func:`run_decision_map`.
- ``_workers.py``: what every local worker process runs first (it ends
  itself when the sweep that started it is killed).
- ``_execution.py``: many runs, on local processes or a dask cluster:
  :func:`run_experiments`.
- ``_summaries.py``: sweeps reduced to one value per point
  (:func:`summarize_sweep`) and the runs of the paper's figures
  (:func:`run_sweeps`, :func:`reproduce`).

The first three and ``_workers.py`` import neither torch nor the estimators
(``_config.py`` not even scikit-learn until a configuration is validated),
and this package loads its modules when one of their names is first used, so
that the command line offers its choices without importing torch.
"""

from .._lazy import lazy_attributes

_MODULES = {
    "_config": (
        "DATASETS",
        "METRICS",
        "SCENARIOS",
        "SELECTIONS",
        "SWEEPABLE",
        "SYNTHETIC_DATASETS",
        "ExperimentConfig",
        "parse_setting",
    ),
    "_results": ("COLUMNS",),
    "_presets": ("FIGURES", "PRESETS", "Preset", "Sweep"),
    "_run": (
        "build_classifier",
        "load_experiment_data",
        "run_decision_map",
        "run_experiment",
    ),
    "_execution": ("run_experiments",),
    "_summaries": ("reproduce", "run_sweeps", "summarize_sweep"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
