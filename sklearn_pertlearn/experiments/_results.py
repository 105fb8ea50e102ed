"""The results store: a run's identity, and the CSV file that sweeps resume from.

Nothing here imports torch.
"""

import csv
import io
import os
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from ._config import _PARSERS, METRICS, SYNTHETIC_DATASETS, ExperimentConfig
from ._files import _check_folder, _Lock

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


def _csv_line(fields):
    """``fields`` as one line of CSV, as :class:`csv.writer` writes it."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)
    return buffer.getvalue()


_HEADER = _csv_line(COLUMNS)


def _starts_a_row(text):
    """Whether ``text``, a last line without its end, is a result row cut short.

    Every field but the last, which the cut may have shortened, reads as its
    column's type, and there are no more fields than columns.
    """
    values = next(csv.reader([text]), [])
    try:
        for name, value in zip(COLUMNS, values[:-1]):
            _PARSERS[name](value)
    except ValueError:
        return False
    return len(values) <= len(COLUMNS)


class _ResultsFile:
    """A CSV file of results, one row per finished run, appended run by run.

    Every row is written and flushed with its own ``open``, so a process that
    is killed leaves every finished row on disk. A last line cut short by the
    kill (the start of the header or of a row) is dropped by the next writer;
    a file that is anything else is refused, and left as it is.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._writing = False

    def read(self):
        """Return the finished runs in the file, as typed result dicts."""
        return self._parse()[0]

    def finished(self):
        """The runs in the file by identity; one with the cosine wins over one without."""
        found = {}
        for row in self.read():
            key = _key(row)
            if key not in found or row["cosine_similarity"] is not None:
                found[key] = row
        return found

    def _refuse(self, why):
        return ValueError(
            f"{str(self.path)!r} is not a results file of this version: {why}. It "
            "was left as it is; choose another output path."
        )

    def _parse(self):
        """The rows of the file, and the length in bytes of its complete lines.

        What follows the complete lines is an interrupted write, the start
        of the header or of a row; anything else there is refused.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], 0
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise self._refuse(
                f"line {line} is not UTF-8 text (byte {data[exc.start]:#04x} at "
                f"position {exc.start})"
            ) from None
        end = data.rfind(b"\n") + 1
        # A line end is one byte in UTF-8: the text splits where the bytes do.
        complete, rest = text[: text.rfind("\n") + 1], text[text.rfind("\n") + 1 :]
        reader = csv.reader(io.StringIO(complete, newline=""))
        header = next(reader, None)
        if header is None:
            if not _HEADER.startswith(rest):
                raise self._refuse(f"it begins with {rest[:60]!r}, not with its columns")
            return [], 0
        if tuple(header) != COLUMNS:
            raise self._refuse(f"its columns are {header}, expected {list(COLUMNS)}")
        rows = []
        for values in reader:
            try:
                if len(values) != len(COLUMNS):
                    raise ValueError(f"{len(values)} fields, expected {len(COLUMNS)}")
                rows.append({name: _PARSERS[name](v) for name, v in zip(COLUMNS, values)})
            except ValueError as exc:
                raise self._refuse(
                    f"line {reader.line_num} is not a result row ({exc})"
                ) from None
        if rest and not _starts_a_row(rest):
            raise self._refuse(f"its last line, {rest[:60]!r}, is not a result row")
        return rows, end

    @contextmanager
    def writing(self):
        """Hold the file as its one writer, its interrupted last line dropped.

        The lock is a file beside it, ``NAME.lock``, removed at the end; the
        operating system releases it when the process ends, however it ends.

        Raises
        ------
        BlockingIOError
            Another process writes the file.
        FileNotFoundError
            The file's folder does not exist.
        ValueError
            The file is not a results file of this version (it is left as
            it is).
        """
        _check_folder(self.path, "results file")
        lock = _Lock(self.path.with_name(self.path.name + ".lock"))
        if not lock.acquire():
            owner = lock.owner()
            raise BlockingIOError(
                f"{str(self.path)!r} is being written by another process"
                f"{'' if owner is None else f' (process {owner})'}: one sweep at a "
                "time writes a results file. Wait for it to end (a rerun then "
                "skips its runs), or choose another output path."
            )
        try:
            self._drop_interrupted_write()
            self._writing = True
            yield self
        finally:
            self._writing = False
            lock.release()

    def _drop_interrupted_write(self):
        _, end = self._parse()
        if self.path.exists() and self.path.stat().st_size > end:
            what = (
                "an incomplete header (an interrupted write); it is dropped"
                if end == 0
                else "an incomplete row (an interrupted write); it is dropped and "
                "that run is done again"
            )
            warnings.warn(f"{str(self.path)!r} ends with {what}.", stacklevel=5)
            os.truncate(self.path, end)

    def append(self, result):
        """Append one finished run.

        Outside :meth:`writing` the file is held for this row alone, and a
        run already in it is not written again.
        """
        if not self._writing:
            with self.writing():
                if _key(result) not in self.finished():
                    self.append(result)
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        # UTF-8 whatever the locale, as the file is read.
        with self.path.open("a", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(COLUMNS)
            # str(float) is the shortest repr that reads back to the same float.
            writer.writerow("" if result[name] is None else result[name] for name in COLUMNS)


def _is_done(config, found):
    """Whether ``found`` (runs by identity) holds ``config``, with the cosine if asked."""
    row = found.get(_key(asdict(config)))
    return row is not None and not (config.cosine and row["cosine_similarity"] is None)
