"""Figures of the paper, drawn with matplotlib.

matplotlib is an optional dependency (the ``plot`` extra): it is imported when
a figure is drawn, never when this module is imported.
"""

import numpy as np


def _pyplot():
    """Import matplotlib.pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib`, or from a checkout of sklearn-pertlearn "
            'with `pip install -e ".[plot]"`.'
        ) from exc
    return plt


def plot_decision_map(
    result,
    *,
    ax=None,
    show_data=True,
    legend=True,
    agree_color="#cfe8cf",
    disagree_color="#555555",
):
    """Draw a decision map as in the authors' figures.

    The plane is filled with ``agree_color`` where ``sign f = sign g`` and
    with ``disagree_color`` where they differ. The zero line of ``hat_f`` is
    drawn solid red and that of ``hat_g`` dashed black; the training data are
    drawn at their projections on the plane, circles for +1 and crosses for
    -1.

    Parameters
    ----------
    result : Bunch
        The output of :func:`sklearn_pertlearn.theory.decision_map`.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    show_data : bool, default=True
        Draw the projected training data.
    legend : bool, default=True
        Add a legend, below the axes as in the authors' figures (save with
        ``bbox_inches="tight"``, or use a constrained layout, to keep it).
    agree_color, disagree_color : color, default="#cfe8cf", "#555555"
        Fill colors of the agreement and disagreement regions.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pertlearn.plotting import plot_decision_map
    >>> from sklearn_pertlearn.theory import LazyRegimeClassifier, decision_map
    >>> X = [[1.0, 0.2], [0.8, -0.1], [-1.0, 0.1], [-0.9, -0.3]]
    >>> y = [1, 1, -1, -1]
    >>> f = LazyRegimeClassifier().fit(X, y)
    >>> ax = plot_decision_map(decision_map(X, y, f, f, X_adv=X, resolution=30))
    >>> [float(limit) for limit in ax.get_xlim()]
    [-7.0, 7.0]
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots()
    xx, yy = result.xx, result.yy
    ax.contourf(
        xx,
        yy,
        result.agreement.astype(float),
        levels=[-0.5, 0.5, 1.5],
        colors=[disagree_color, agree_color],
    )
    handles = [
        Patch(color=agree_color, label="sign f = sign g"),
        Patch(color=disagree_color, label="sign f ≠ sign g"),
    ]
    zero_lines = (
        ("hat_f", "red", "solid", r"$\hat f = 0$"),
        ("hat_g", "black", "dashed", r"$\hat g = 0$"),
    )
    for key, color, style, label in zero_lines:
        values = result[key]
        # A map on which hat_f or hat_g keeps one sign has no zero line.
        if values is not None and values.min() < 0 < values.max():
            ax.contour(xx, yy, values, levels=[0.0], colors=color, linestyles=style)
            handles.append(Line2D([], [], color=color, linestyle=style, label=label))
    if show_data:
        X_plane, y = result.X_plane, np.asarray(result.y)
        handles.append(
            ax.scatter(
                *X_plane[y == 1].T,
                marker="o",
                s=14,
                facecolors="none",
                edgecolors="tab:blue",
                label="samples +1",
            )
        )
        handles.append(
            ax.scatter(
                *X_plane[y == -1].T,
                marker="x",
                s=14,
                c="tab:orange",
                label="samples -1",
            )
        )
    ax.set_xlim(float(xx.min()), float(xx.max()))
    ax.set_ylim(float(yy.min()), float(yy.max()))
    ax.set_aspect("equal")
    ax.set_xlabel(r"coordinate along $u_1$ (mean of class +1)")
    ax.set_ylabel(r"coordinate along $u_2$ (mean of class -1)")
    if legend:
        # Below the axes, as in the authors' figures, so that no part of the
        # map is hidden.
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=3,
            fontsize="small",
        )
    return ax


# How each metric of a sweep is drawn: legend label, marker, line style.
_SWEEP_LINES = {
    "f_train_accuracy": ("accuracy of f on D", "o", "-"),
    "g_train_accuracy": ("accuracy of g on D", "X", "--"),
    "agreement": ("agreement of f and g", "^", ":"),
    "f_test_accuracy": ("accuracy of f on test data", "s", "-."),
    "g_test_accuracy": ("accuracy of g on test data", "D", "-."),
    "cosine_similarity": ("cosine similarity to theorem 3.3", "o", "-"),
}

#: The three lines of the paper's accuracy figures.
ACCURACY_METRICS = ("f_train_accuracy", "g_train_accuracy", "agreement")


def _check_metrics(metrics):
    unknown = [name for name in metrics if name not in _SWEEP_LINES]
    if unknown or not metrics:
        raise ValueError(
            f"metrics must be a non-empty selection of {list(_SWEEP_LINES)}; "
            f"got {list(metrics)}."
        )


def plot_sweep(summary, *, metrics=ACCURACY_METRICS, ax=None, legend=True):
    """Draw one panel of the paper's sweep figures.

    The metrics are drawn against the swept setting, as in the authors'
    figures: accuracies on a fixed scale from 0.4 to 1.05 with ticks at
    chance (0.5), 0.75 and 1; the cosine similarity from 0 to 1.05. A setting
    whose positive values span two decades or more (width, sample count) gets
    a logarithmic axis; named values (loss, targets) one tick each.

    Parameters
    ----------
    summary : dict or Bunch
        A sweep reduced to one value per point, as
        :func:`sklearn_pertlearn.experiments.summarize_sweep` returns it:
        ``param_values``, ``label`` (x axis), ``title`` and one array per
        metric.
    metrics : tuple of str, default=ACCURACY_METRICS
        The keys of ``summary`` to draw: any of ``"f_train_accuracy"``,
        ``"g_train_accuracy"``, ``"agreement"``, ``"f_test_accuracy"``,
        ``"g_test_accuracy"`` and ``"cosine_similarity"``.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    legend : bool, default=True
        Add a legend.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pertlearn.plotting import plot_sweep
    >>> summary = {
    ...     "param_values": [1, 10, 100], "label": "width m", "title": "width m",
    ...     "f_train_accuracy": [0.9, 1.0, 1.0],
    ...     "g_train_accuracy": [0.5, 0.9, 1.0],
    ...     "agreement": [0.5, 0.95, 1.0],
    ... }
    >>> ax = plot_sweep(summary)
    >>> ax.get_xscale(), len(ax.get_lines())
    ('log', 3)
    """
    _check_metrics(metrics)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    try:
        x, names = np.asarray(summary["param_values"], dtype=float), None
    except ValueError:
        # A setting with named values (loss, targets): one tick per name.
        names = [str(value) for value in summary["param_values"]]
        x = np.arange(len(names), dtype=float)
    for name in metrics:
        label, marker, style = _SWEEP_LINES[name]
        values = np.asarray(summary[name], dtype=float)
        ax.plot(x, values, marker=marker, markersize=4, linestyle=style, label=label)
    if names is not None:
        ax.set_xticks(x, names)
        ax.set_xlim(-0.5, len(names) - 0.5)
    elif (x > 0).all() and x.max() >= 100 * x.min():
        ax.set_xscale("log")
    if metrics == ("cosine_similarity",):
        ax.set_ylim(0.0, 1.05)
        ax.set_yticks([0.0, 0.5, 1.0])
    else:
        ax.set_ylim(0.4, 1.05)
        ax.set_yticks([0.5, 0.75, 1.0])
    ax.set_xlabel(summary["label"])
    # The title only says what differs from the preset; the label names the axis.
    if summary["title"] != summary["label"]:
        ax.set_title(summary["title"], fontsize="medium")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_sweeps(summaries, *, metrics=ACCURACY_METRICS, ncols=2, title=None):
    """Draw a figure in the paper's layout: one panel per sweep.

    Panels fill a grid of ``ncols`` columns (the authors use two), each drawn
    by :func:`plot_sweep`, with one legend for the whole figure below them.

    Parameters
    ----------
    summaries : list of dict or Bunch
        One sweep summary per panel, see :func:`plot_sweep`.
    metrics : tuple of str, default=ACCURACY_METRICS
        The metrics every panel draws.
    ncols : int, default=2
        Number of panel columns.
    title : str, default=None
        Title of the figure.

    Returns
    -------
    fig : matplotlib Figure
        The figure; save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pertlearn.plotting import plot_sweeps
    >>> summary = {
    ...     "param_values": [0.0, 0.5], "label": "slope gamma", "title": "slope",
    ...     "f_train_accuracy": [1.0, 1.0], "g_train_accuracy": [0.9, 0.8],
    ...     "agreement": [0.95, 0.9],
    ... }
    >>> fig = plot_sweeps([summary] * 3, title="sG-a")
    >>> sum(ax.get_visible() for ax in fig.axes)
    3
    """
    _check_metrics(metrics)
    if len(summaries) == 0:
        raise ValueError("summaries is empty: there is no panel to draw.")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}.")
    plt = _pyplot()
    ncols = min(ncols, len(summaries))
    nrows = -(-len(summaries) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(3.6 * ncols, 2.6 * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for ax, summary in zip(axes.flat, summaries):
        plot_sweep(summary, metrics=metrics, ax=ax, legend=False)
    for ax in axes.flat[len(summaries):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    # As many legend columns as panel columns, so that the legend is never
    # wider than the figure (a one-panel figure stacks its entries).
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(metrics), ncols))
    if metrics == ("cosine_similarity",):
        fig.supylabel("cosine similarity")
    else:
        fig.supylabel("accuracy / agreement")
    if title is not None:
        fig.suptitle(title)
    return fig
