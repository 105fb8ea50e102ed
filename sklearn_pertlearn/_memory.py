"""Working memory: how many rows a chunked computation takes at once.

One setting bounds every computation whose intermediate grows with the rows
of its input (the hidden layer of a prediction, the attack, the kernel of the
theory at query points): scikit-learn's ``working_memory``
(:func:`sklearn.set_config`, in MiB, 1024 by default), as scikit-learn's own
chunked computations use it.
"""

import warnings

from sklearn import get_config

#: On a CPU a chunk's intermediates stay within this many bytes, so that they
#: stay in the cache between the steps of the computation: predicting 10^5
#: rows at width 1000 on one thread took 0.31 s in chunks of 4 MiB of hidden
#: layer, 0.38 s at 16 MiB, 0.43 s at 64 MiB and 0.92 s in one pass of
#: 760 MiB (benchmarks/bench_memory.py measures the whole range).
CPU_CHUNK_BYTES = 4 * 2**20


def chunk_rows(row_bytes, n_rows, device_type="cpu"):
    """Rows per chunk: as many as fit in the working memory, at least one, at most ``n_rows``.

    Parameters
    ----------
    row_bytes : int
        Bytes of working memory that one row takes.
    n_rows : int
        Rows in all.
    device_type : str, default="cpu"
        Where the chunk is computed: on a CPU, also at most
        :data:`CPU_CHUNK_BYTES`; a GPU has no cache to keep to and takes the
        working memory whole.

    Returns
    -------
    rows : int

    Examples
    --------
    >>> import sklearn
    >>> with sklearn.config_context(working_memory=1):
    ...     chunk_rows(1024, 10_000)
    1024
    >>> chunk_rows(8000, 10**6), chunk_rows(8000, 10**6, "cuda")
    (524, 134217)
    """
    working_memory = get_config()["working_memory"]
    if row_bytes > working_memory * 2**20:
        # scikit-learn's words, where its own chunked computations warn.
        warnings.warn(
            "Could not adhere to working_memory config. Currently "
            f"{working_memory:.0f}MiB, {row_bytes / 2**20:.0f}MiB required.",
            UserWarning,
        )
    budget = working_memory * 2**20
    if device_type == "cpu":
        budget = min(budget, CPU_CHUNK_BYTES)
    return max(1, min(int(n_rows), int(budget // max(row_bytes, 1))))


def row_chunks(n_rows, row_bytes, device_type="cpu"):
    """Slices over ``n_rows`` rows, each of :func:`chunk_rows` rows (the last may be shorter).

    Examples
    --------
    >>> import sklearn
    >>> with sklearn.config_context(working_memory=1):
    ...     list(row_chunks(2500, 1024))
    [slice(0, 1024, None), slice(1024, 2048, None), slice(2048, 2500, None)]
    """
    step = chunk_rows(row_bytes, n_rows, device_type)
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]
