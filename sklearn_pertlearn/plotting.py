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
            "`pip install sklearn-pertlearn[plot]`."
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
        Add a legend.
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
                *X_plane[y == -1].T, marker="x", s=14, c="tab:orange", label="samples -1"
            )
        )
    ax.set_xlim(float(xx.min()), float(xx.max()))
    ax.set_ylim(float(yy.min()), float(yy.max()))
    ax.set_aspect("equal")
    ax.set_xlabel(r"coordinate along $u_1$ (mean of class +1)")
    ax.set_ylabel(r"coordinate along $u_2$ (mean of class -1)")
    if legend:
        ax.legend(handles=handles, loc="upper right", fontsize="small")
    return ax
