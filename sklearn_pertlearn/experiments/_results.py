"""The results store: a run's identity, and the CSV file that sweeps resume from.

Nothing here imports torch.
"""

import csv
import warnings
from dataclasses import asdict
from pathlib import Path

from ._config import _PARSERS, METRICS, SYNTHETIC_DATASETS, ExperimentConfig

# Settings that change where or how a run is computed, not its outcome: two
# rows that differ only in them are the same run.
_NOT_IN_KEY = ("device", "cosine", "data_home")
_KEY_FIELDS = [name for name in ExperimentConfig.field_names() if name not in _NOT_IN_KEY]
# A real data set's sizes are its own: a configuration leaves them None and
# its result reports them, and both are the same run.
_SIZES = ("n_samples", "n_features", "n_test")
#: The columns of a results file: every setting, then :data:`METRICS`.
COLUMNS = (*ExperimentConfig.field_names(), *METRICS)


def _key(settings):
    """Identity of a run: its settings (a config or a result), normalised."""
    real = settings["dataset"] not in SYNTHETIC_DATASETS
    return tuple(
        None
        if settings[name] is None or (real and name in _SIZES)
        else _PARSERS[name](str(settings[name]))
        for name in _KEY_FIELDS
    )


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

    def finished(self):
        """The runs in the file by identity; one with the cosine wins over one without."""
        found = {}
        for row in self.read():
            key = _key(row)
            if key not in found or row["cosine_similarity"] is not None:
                found[key] = row
        return found

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


def _is_done(config, found):
    """Whether ``found`` (runs by identity) holds ``config``, with the cosine if asked."""
    row = found.get(_key(asdict(config)))
    return row is not None and not (config.cosine and row["cosine_similarity"] is None)
