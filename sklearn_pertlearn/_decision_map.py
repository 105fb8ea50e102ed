"""The data of the decision maps that :mod:`sklearn_pertlearn.plotting` draws.

:func:`decision_map` is public as :func:`sklearn_pertlearn.theory.decision_map`.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ._kernel import (
    check_like,
    check_signed_labels,
    direction_sums,
    hat_f_values,
    hat_g_from_sums,
    query_batches,
    query_bytes,
    to_numpy,
    to_tensors,
)
from ._threads import grid_work, limit_threads
from ._validation import (
    DEVICE_CONSTRAINT,
    SLOPE_CONSTRAINT,
    check_device,
    check_float_array,
)

__all__ = ["decision_map"]


def _decision_values(estimator, Z, name):
    """Binary decision values of a fitted classifier or a callable at Z."""
    if hasattr(estimator, "decision_function"):
        values = estimator.decision_function(Z)
    else:
        values = estimator(Z)
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (Z.shape[0],):
        raise ValueError(
            f"{name} must give one decision value per point for two classes; "
            f"got the shape {values.shape} for {Z.shape[0]} points."
        )
    return values


def _check_limits(limits):
    if len(limits) != 2:
        raise ValueError(
            f"limits must be a pair (low, high) of floats; got {limits!r}."
        )
    low, high = limits
    finite = all(isinstance(v, Real) and math.isfinite(v) for v in (low, high))
    if not (finite and low < high):
        raise ValueError(
            "limits must be a pair (low, high) of finite floats with low < high; "
            f"got {limits!r}."
        )
    return float(low), float(high)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "f": [callable, HasMethods(["decision_function"])],
        "g": [callable, HasMethods(["decision_function"])],
        "X_adv": ["array-like", None],
        "limits": [tuple, list],
        "resolution": [Interval(Integral, 2, None, closed="left")],
        "slope": SLOPE_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
@limit_threads(grid_work)
def decision_map(
    X,
    y,
    f,
    g,
    *,
    X_adv=None,
    limits=(-7.0, 7.0),
    resolution=400,
    slope=0.0,
    device="cpu",
):
    r"""Data of the authors' decision maps.

    The map lives on the plane spanned by ``u1``, the normalised mean of the
    class +1, and ``u2``, that of the class -1. The grid point with
    coordinates ``(s, t)`` is ``s u1 + t u2``, for ``resolution`` values of
    ``s`` and of ``t`` evenly spaced over ``limits``. At every grid point the
    map holds the decision values of ``f`` and ``g``, whether their signs
    agree, and ``hat_f`` and ``hat_g``. The grid is processed in blocks of
    points that, with their kernel entries, fit in scikit-learn's
    ``working_memory`` (see :func:`sklearn.config_context`), whatever
    ``n_features``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Clean training inputs of ``f``.
    y : array-like of shape (n_samples,)
        Clean training labels of ``f``, in {-1, +1}, both present.
    f, g : fitted binary classifier or callable
        The network trained on clean data and the one trained on adversarial
        examples. A classifier's ``decision_function`` is used (positive for
        ``classes_[1]``, which should be the label +1); a callable is given an
        array of shape (n_points, n_features), of the dtype of ``X``, and
        returns one value per point.
    X_adv : array-like of shape (n_samples, n_features), default=None
        The adversarial examples ``g`` was trained on, for
        :func:`~sklearn_pertlearn.theory.hat_g`.
        ``None`` leaves ``hat_g`` out.
    limits : tuple of two floats, default=(-7.0, 7.0)
        Lowest and highest coordinate on both axes.
    resolution : int, default=400
        Number of grid values along each axis.
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where ``hat_f`` and ``hat_g`` are computed.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With the keys

        - ``axes``, ndarray of shape (2, n_features): ``u1`` and ``u2``;
        - ``xx``, ``yy``, ndarrays of shape (resolution, resolution): the
          coordinates ``s`` and ``t`` of the grid points, as
          :func:`numpy.meshgrid` makes them;
        - ``f``, ``g``, ndarrays of shape (resolution, resolution): the
          decision values;
        - ``agreement``, bool ndarray of shape (resolution, resolution):
          ``sign f == sign g``;
        - ``hat_f``, ndarray of shape (resolution, resolution);
        - ``hat_g``, ndarray of shape (resolution, resolution), or ``None``
          without ``X_adv``;
        - ``X_plane``, ndarray of shape (n_samples, 2): the coordinates
          ``(s, t)`` of the orthogonal projection of each ``x_n`` on the
          plane;
        - ``y``: the labels.

    See Also
    --------
    sklearn_pertlearn.plotting.plot_decision_map : Draw the result.

    Notes
    -----
    The authors plot the data at their inner products with ``u1`` and
    ``u2``; those equal the plane coordinates only when ``u1`` and ``u2`` are
    orthogonal. ``X_plane`` holds the plane coordinates, so that every point
    is drawn where its projection lies on the grid.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import LazyRegimeClassifier, decision_map
    >>> X = [[1.0, 0.2], [0.8, -0.1], [-1.0, 0.1], [-0.9, -0.3]]
    >>> y = [1, 1, -1, -1]
    >>> f = LazyRegimeClassifier().fit(X, y)
    >>> result = decision_map(X, y, f, f, X_adv=X, resolution=50)
    >>> result.agreement.shape, bool(result.agreement.all())
    ((50, 50), True)
    """
    device = check_device(device)
    X = check_float_array(X)
    y = check_signed_labels(y, X)
    if X_adv is not None:
        X_adv = check_like(X_adv, X, "X_adv", same_shape=True)
    low, high = _check_limits(limits)
    if not ((y == 1).any() and (y == -1).any()):
        raise ValueError("y must hold both labels -1 and +1 to span the plane.")

    means = np.stack([X[y == 1].mean(axis=0), X[y == -1].mean(axis=0)])
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    if not (norms > 0).all():
        raise ValueError(
            "The mean of a class is the zero vector, so it spans no axis of the plane."
        )
    axes = (means / norms).astype(X.dtype)
    coordinates = np.linspace(low, high, resolution, dtype=X.dtype)
    xx, yy = np.meshgrid(coordinates, coordinates)

    arrays = [X, y.astype(X.dtype)] + ([] if X_adv is None else [X_adv])
    X_t, y_t, *X_adv_t = to_tensors(arrays, device)
    sums = None if X_adv is None else direction_sums(X_t, y_t, slope)
    values = {key: np.empty(resolution * resolution) for key in ("f", "g", "hat_f")}
    values["hat_g"] = None if X_adv is None else np.empty(resolution * resolution)
    flat = np.column_stack([xx.ravel(), yy.ravel()])
    # A grid point costs its coordinates and its kernel entries in hat_f and
    # hat_g (which split a block further, to stay in cache).
    row_bytes = X_t.shape[1] * X_t.element_size() + query_bytes(X_t)
    for rows in query_batches(len(flat), row_bytes, device.type):
        grid = flat[rows] @ axes
        values["f"][rows] = _decision_values(f, grid, "f")
        values["g"][rows] = _decision_values(g, grid, "g")
        grid_t = torch.as_tensor(grid, dtype=X_t.dtype, device=device)
        values["hat_f"][rows] = to_numpy(hat_f_values(X_t, y_t, grid_t, slope))
        if sums is not None:
            values["hat_g"][rows] = to_numpy(
                hat_g_from_sums(X_adv_t[0], sums, grid_t, slope)
            )

    shape = (resolution, resolution)
    maps = {k: None if v is None else v.reshape(shape) for k, v in values.items()}
    # Least squares gives the coordinates of the projection in the (possibly
    # oblique) basis u1, u2.
    X_plane = np.linalg.lstsq(axes.T.astype(np.float64), X.T, rcond=None)[0].T
    return Bunch(
        axes=axes,
        xx=xx,
        yy=yy,
        agreement=np.sign(maps["f"]) == np.sign(maps["g"]),
        X_plane=X_plane.astype(X.dtype),
        y=y,
        **maps,
    )
