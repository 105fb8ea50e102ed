"""The paper's theory as tools.

The kernel ``Phi`` of the lazy (infinite-width) regime, the direction that
theorem 3.3 predicts for a perturbation, the lazy-regime predictors ``hat_f``
and ``hat_g`` of theorems 3.4 and 3.5, :class:`LazyRegimeClassifier` (``hat_f``
as a scikit-learn classifier) and the data of the authors' decision maps.

``Phi`` has a closed form (the arcsine kernel of a centred bivariate Gaussian),
so nothing here needs Monte Carlo; the authors' estimator is kept as
``phi_kernel(method="monte_carlo")`` for comparison. All sums over the training
set run block by block: no step holds more than about ``_BLOCK_ELEMENTS``
kernel entries, so ten thousand training points against a 400 x 400 grid fit in
well under a gigabyte. Computations run in torch on ``device``, in float64 when
any input is float64 and in float32 otherwise, and come back as numpy arrays.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._network import leaky_relu_derivative_
from ._threads import grid_work, kernel_work, lazy_regime_work, limit_threads
from ._validation import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    SLOPE_CONSTRAINT,
    check_device,
    check_float_array,
    check_n_features,
    to_tensor,
)

__all__ = [
    "LazyRegimeClassifier",
    "decision_map",
    "direction_cosine_similarity",
    "hat_f",
    "hat_g",
    "perturbation_direction",
    "phi_kernel",
]

# Kernel entries per block (2**23: 32 MiB in float32). A block and its two or
# three temporaries stay far below a gigabyte, while the matrix products stay
# large enough to run at full speed.
_BLOCK_ELEMENTS = 1 << 23



def _check_like(A, X, name, *, same_shape=False):
    """Validate ``A`` as points in the space of the validated ``X``.

    They must have the features of ``X``, and with ``same_shape`` one row per
    row of ``X`` (perturbations or adversarial examples of ``X``).
    """
    A = check_float_array(A, name)
    if same_shape and A.shape != X.shape:
        raise ValueError(f"{name} must have the shape of X, {X.shape}; got {A.shape}.")
    check_n_features(A, X.shape[1], name=name, reference="X has")
    return A


def _check_signed_labels(y, X):
    """Validate labels in {-1, +1}, the paper's encoding, one per row of X."""
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    labels = np.unique(y)
    if labels.dtype.kind not in "iuf" or not np.isin(labels, (-1, 1)).all():
        raise ValueError(
            "y must hold the labels -1 and +1 of the paper; got the labels "
            f"{labels.tolist()}. LazyRegimeClassifier accepts any labels."
        )
    return y


def _to_tensors(arrays, device):
    """Move arrays to ``device`` in one dtype: float64 if any is float64."""
    wide = any(a.dtype == np.float64 for a in arrays)
    dtype = torch.float64 if wide else torch.float32
    return [to_tensor(a, dtype, device) for a in arrays]


def _to_numpy(tensor):
    return tensor.cpu().numpy()


def _unit_rows(X):
    """Rows ``(x / sqrt(d), 1) / sqrt(|x|^2 / d + 1)``, of unit norm.

    Their inner product is the correlation ``rho`` of ``w . x + b`` and
    ``w . z + b``, so that a block of rho is a single matrix product.
    """
    n_features = X.shape[1]
    scaled = torch.cat([X, X.new_full((X.shape[0], 1), math.sqrt(n_features))], 1)
    return torch.nn.functional.normalize(scaled, dim=1)


def _phi_from_rho(rho, slope):
    """``(1 + slope)^2 / 4 + (1 - slope)^2 asin(rho) / (2 pi)``, in place.

    This is ``E[sigma' sigma']`` for leaky ReLU: ``sigma'`` takes the values 1
    and ``slope``, and both pre-activations are positive with probability
    ``1/4 + asin(rho) / (2 pi)``.
    """
    # Rounding can push rho of (nearly) parallel points just past +-1, where
    # asin is NaN.
    rho.clamp_(-1.0, 1.0).asin_()
    # The affine map in one pass: a 0-d tensor broadcasts against rho.
    offset = rho.new_tensor((1.0 + slope) ** 2 / 4.0)
    return torch.add(offset, rho, alpha=(1.0 - slope) ** 2 / (2.0 * math.pi), out=rho)


def _phi_blocks(X, Z, slope, *, with_gram=False):
    """Yield ``(columns, Phi(X, Z[columns]), gram)`` block by block.

    ``gram`` is ``X @ Z[columns].T`` when ``with_gram`` is true and ``None``
    otherwise; rho is then derived from it, which costs three element-wise
    passes instead of a second matrix product.
    """
    n_features = X.shape[1]
    if with_gram:
        x_scale = torch.rsqrt(X.square().sum(dim=1) / n_features + 1.0)
        z_scale = torch.rsqrt(Z.square().sum(dim=1) / n_features + 1.0)
    else:
        X_unit = _unit_rows(X)
        Z_unit = X_unit if Z is X else _unit_rows(Z)
    step = max(1, _BLOCK_ELEMENTS // max(1, X.shape[0]))
    for start in range(0, Z.shape[0], step):
        columns = slice(start, min(start + step, Z.shape[0]))
        if with_gram:
            gram = X @ Z[columns].T
            rho = gram / n_features + 1.0
            rho.mul_(x_scale[:, None]).mul_(z_scale[None, columns])
        else:
            gram, rho = None, X_unit @ Z_unit[columns].T
        yield columns, _phi_from_rho(rho, slope), gram


def _strip_rows(n_samples):
    """Rows per strip of :func:`_symmetric_phi`: at least four strips (5/8 of
    the work), more where a strip would exceed a block."""
    return max(1, min(-(-n_samples // 4), _BLOCK_ELEMENTS // n_samples))


def _symmetric_phi(X, slope):
    """Phi(X, X) from strips on and above the diagonal, mirrored below it.

    Exactly symmetric, for at most 5/8 of the matrix products and arcsines of
    the whole kernel. Every strip is computed in place in the result.
    """
    n_samples = X.shape[0]
    unit = _unit_rows(X)
    out = X.new_empty((n_samples, n_samples))
    step = _strip_rows(n_samples)
    tile_buffer = X.new_empty((step, step))
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        strip = out[start:stop, start:]
        _phi_from_rho(torch.mm(unit[start:stop], unit[start:].T, out=strip), slope)
        # The tile on the diagonal may round differently above and below it
        # (BLAS's in-order dot products usually make it symmetric already);
        # floating-point addition commutes, so the mean with its transpose
        # is exactly symmetric.
        tile = strip[:, : stop - start]
        if not torch.equal(tile, tile.T):
            mean = torch.add(tile, tile.T, out=tile_buffer[: stop - start, : stop - start])
            torch.mul(mean, 0.5, out=tile)
        out[stop:, start:stop] = strip[:, stop - start :].T
    # rho = 1 exactly on the diagonal, where arcsin, next to its branch
    # point, would lose half of the digits.
    out.diagonal().fill_((1.0 + slope**2) / 2.0)
    return out


def _monte_carlo_phi_blocks(X, Z, slope, n_draws, random_state):
    """The authors' estimator: the mean of sigma' sigma' over drawn (w, b)."""
    rng = check_random_state(random_state)
    n_features = X.shape[1]
    weight = rng.standard_normal((n_draws, n_features)) / math.sqrt(n_features)
    bias = rng.standard_normal(n_draws)
    weight, bias = (
        torch.as_tensor(a, dtype=X.dtype, device=X.device) for a in (weight, bias)
    )

    def derivative(A):
        return leaky_relu_derivative_(torch.addmm(bias, A, weight.T), slope)

    x_derivative = derivative(X)
    step = max(1, _BLOCK_ELEMENTS // max(n_draws, X.shape[0]))
    for start in range(0, Z.shape[0], step):
        columns = slice(start, min(start + step, Z.shape[0]))
        yield columns, x_derivative @ derivative(Z[columns]).T / n_draws


def _direction_sums(X, y, slope):
    """Rows ``(1/N) sum_k y_k Phi(x_n, x_k) x_k`` of theorem 3.3, shape (N, d)."""
    sums = torch.empty_like(X)
    for columns, phi, _ in _phi_blocks(X, X, slope):
        # Phi(X, X) is symmetric: column block j holds the rows Phi(x_j, X).
        sums[columns] = phi.mul_(y[:, None]).T @ X
    return sums.div_(X.shape[0])


def _lazy_sums(X, coef, Z, slope):
    """``coef @ (Phi(X, Z) * X Z^T)``: hat_f for each row of ``coef`` (K, N)."""
    out = Z.new_empty((coef.shape[0], Z.shape[0]))
    for columns, phi, gram in _phi_blocks(X, Z, slope, with_gram=True):
        out[:, columns] = coef @ phi.mul_(gram)
    return out


def _hat_g_from_sums(X_adv, sums, Z, slope):
    """``(1/N) sum_n Phi(x_adv_n, z) (sums_n . z)`` for every row z of Z."""
    out = Z.new_empty(Z.shape[0])
    for columns, phi, _ in _phi_blocks(X_adv, Z, slope):
        out[columns] = phi.mul_(sums @ Z[columns].T).mean(dim=0)
    return out


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


# Checked in the body rather than by ``validate_params``, whose per-call
# overhead is a few percent of a thousand-point kernel.
_PHI_KERNEL_CONSTRAINTS = {
    "X": ["array-like"],
    "Z": ["array-like", None],
    "slope": SLOPE_CONSTRAINT,
    "method": [StrOptions({"exact", "monte_carlo"})],
    "n_draws": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "device": DEVICE_CONSTRAINT,
}


@limit_threads(kernel_work)
def phi_kernel(
    X,
    Z=None,
    *,
    slope=0.0,
    method="exact",
    n_draws=1000,
    random_state=None,
    device="cpu",
):
    r"""Kernel Phi of the lazy regime, in closed form or by Monte Carlo.

    ``Phi(x, z) = E[sigma'(w . x + b) sigma'(w . z + b)]``, the expectation
    over a first-layer neuron at initialisation,
    ``w ~ N(0, I_d / d)`` and ``b ~ N(0, 1)``, and ``sigma`` is the leaky ReLU
    with negative slope ``slope``. Since ``(w . x + b, w . z + b)`` is a
    centred bivariate Gaussian with correlation

    ``rho = (x . z / d + 1) / sqrt((|x|^2 / d + 1) (|z|^2 / d + 1))``,

    the kernel has the closed form
    ``Phi = (1 + slope)^2 / 4 + (1 - slope)^2 arcsin(rho) / (2 pi)``.
    Its values lie in ``[slope, (1 + slope^2) / 2]``, the upper end taken at
    ``x = z``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First argument of the kernel.
    Z : array-like of shape (n_samples_Z, n_features), default=None
        Second argument. ``None`` means ``X``: the result is then exactly
        symmetric, with ``(1 + slope^2) / 2`` on the diagonal.
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    method : {"exact", "monte_carlo"}, default="exact"
        ``"exact"`` evaluates the closed form. ``"monte_carlo"`` is the
        authors' estimator: the mean over ``n_draws`` neurons drawn at
        initialisation, within about ``4 / sqrt(n_draws)`` of the closed form.
    n_draws : int, default=1000
        Number of neurons drawn by ``"monte_carlo"``; ignored otherwise.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws of ``"monte_carlo"``; ignored otherwise.
    device : str or torch.device, default="cpu"
        Where the computation runs, e.g. ``"cuda"``.

    Returns
    -------
    phi : ndarray of shape (n_samples_X, n_samples_Z)
        Float64 when ``X`` or ``Z`` is float64, float32 otherwise. The result
        is held whole: for very large ``n_samples_X * n_samples_Z`` use the
        reductions (:func:`hat_f`, :func:`hat_g`), which never hold it.

    Notes
    -----
    In float32 the closed form is accurate to about ``1e-4`` for nearly
    parallel points, where ``arcsin`` is steep, and to about ``1e-7``
    elsewhere; float64 is accurate to about ``1e-8`` everywhere.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import phi_kernel
    >>> phi_kernel([[1.0, 0.0], [0.0, 1.0]], slope=0.5).round(4)
    array([[0.625 , 0.5915],
           [0.5915, 0.625 ]], dtype=float32)
    """
    validate_parameter_constraints(
        _PHI_KERNEL_CONSTRAINTS,
        dict(X=X, Z=Z, slope=slope, method=method, n_draws=n_draws,
             random_state=random_state, device=device),
        caller_name="phi_kernel",
    )
    device = check_device(device)
    X = check_float_array(X)
    if Z is None:
        (X_t,) = _to_tensors([X], device)
        Z_t = X_t
    else:
        Z = _check_like(Z, X, "Z")
        X_t, Z_t = _to_tensors([X, Z], device)

    if Z is None and method == "exact":
        return _to_numpy(_symmetric_phi(X_t, slope))
    if method == "exact":
        blocks = ((columns, phi) for columns, phi, _ in _phi_blocks(X_t, Z_t, slope))
    else:
        blocks = _monte_carlo_phi_blocks(X_t, Z_t, slope, n_draws, random_state)
    out = X_t.new_empty((X_t.shape[0], Z_t.shape[0]))
    for columns, phi in blocks:
        out[:, columns] = phi
    if Z is None:
        # The two triangles of the product round differently; floating-point
        # addition commutes, so the mean with the transpose is exactly
        # symmetric.
        out = out.add(out.T).mul_(0.5)
    return _to_numpy(out)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "slope": SLOPE_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
@limit_threads(kernel_work)
def perturbation_direction(X, y, *, slope=0.0, device="cpu"):
    r"""Direction of the perturbations that theorem 3.3 predicts.

    For a wide network trained on ``(X, y)`` with the identity loss, the
    gradient of ``f`` at a training point ``x_n``, and so the perturbation
    ``r_n``, is parallel to ``q_n = sum_k y_k Phi(x_n, x_k) x_k`` up to a small
    residual.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training inputs of ``f``.
    y : array-like of shape (n_samples,)
        Training labels of ``f``, in {-1, +1}.
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where the computation runs.

    Returns
    -------
    direction : ndarray of shape (n_samples, n_features)
        The unit vectors ``q_n / |q_n|`` (a zero ``q_n`` stays zero).

    See Also
    --------
    direction_cosine_similarity : Compare actual perturbations with them.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import perturbation_direction
    >>> X = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]
    >>> perturbation_direction(X, [1, -1, 1]).round(3)
    array([[ 0.472, -0.882],
           [ 0.   , -1.   ],
           [-0.472, -0.882]], dtype=float32)
    """
    device = check_device(device)
    X = check_float_array(X)
    y = _check_signed_labels(y, X)
    X_t, y_t = _to_tensors([X, y.astype(X.dtype)], device)
    sums = _direction_sums(X_t, y_t, slope)
    return _to_numpy(torch.nn.functional.normalize(sums, dim=1))


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "perturbations": ["array-like"],
        "slope": SLOPE_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
@limit_threads(kernel_work)
def direction_cosine_similarity(X, y, perturbations, *, slope=0.0, device="cpu"):
    r"""Mean ``|cos|`` between perturbations and the direction of theorem 3.3.

    This is the quantity of the authors' experiment:
    ``mean_n |cos(r_n, sum_k y_k Phi(x_n, x_k) x_k)|``, with ``r_n`` the
    perturbation computed at ``x_n``. The absolute value makes it independent
    of the target labels, which only flip the sign of ``r_n``. Values near 1
    confirm the theorem.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training inputs of ``f``.
    y : array-like of shape (n_samples,)
        Training labels of ``f``, in {-1, +1}.
    perturbations : array-like of shape (n_samples, n_features)
        The perturbation ``r_n`` of each ``x_n`` (not ``x_n + r_n``).
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where the computation runs.

    Returns
    -------
    similarity : float
        In [0, 1]. A zero perturbation counts as similarity 0, as in
        :func:`sklearn.metrics.pairwise.cosine_similarity`.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import (
    ...     direction_cosine_similarity, perturbation_direction)
    >>> X, y = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], [1, -1, 1]
    >>> r = -0.1 * perturbation_direction(X, y)
    >>> round(direction_cosine_similarity(X, y, r), 4)
    1.0
    """
    device = check_device(device)
    X = check_float_array(X)
    y = _check_signed_labels(y, X)
    perturbations = _check_like(perturbations, X, "perturbations", same_shape=True)
    X_t, y_t, r_t = _to_tensors([X, y.astype(X.dtype), perturbations], device)
    normalize = torch.nn.functional.normalize
    cosine = normalize(_direction_sums(X_t, y_t, slope), dim=1) * normalize(r_t, dim=1)
    return float(cosine.sum(dim=1).abs_().mean())


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "Z": ["array-like"],
        "slope": SLOPE_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
@limit_threads(kernel_work)
def hat_f(X, y, Z, *, slope=0.0, device="cpu"):
    r"""Lazy-regime predictor of a network trained on ``(X, y)``.

    ``hat_f(z) = (1/N) sum_n y_n Phi(x_n, z) (x_n . z)``: the part of a wide
    network trained with the identity loss that training adds, up to a
    positive factor (theorems 3.4 and 3.5). Its sign predicts the trained
    network's.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training inputs.
    y : array-like of shape (n_samples,)
        Training labels, in {-1, +1}.
    Z : array-like of shape (n_queries, n_features)
        Points at which to evaluate.
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where the computation runs.

    Returns
    -------
    values : ndarray of shape (n_queries,)

    See Also
    --------
    LazyRegimeClassifier : The same predictor as a classifier.
    hat_g : The predictor of the network trained on adversarial examples.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import hat_f
    >>> X, y = [[1.0, 0.0], [-1.0, 0.0]], [1, -1]
    >>> hat_f(X, y, [[2.0, 0.0], [-2.0, 0.0]]).round(3)
    array([ 0.696, -0.696], dtype=float32)
    """
    device = check_device(device)
    X = check_float_array(X)
    y = _check_signed_labels(y, X)
    Z = _check_like(Z, X, "Z")
    X_t, y_t, Z_t = _to_tensors([X, y.astype(X.dtype), Z], device)
    return _to_numpy(_lazy_sums(X_t, y_t[None] / X_t.shape[0], Z_t, slope)[0])


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "Z": ["array-like"],
        "X_adv": ["array-like"],
        "slope": SLOPE_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
@limit_threads(kernel_work)
def hat_g(X, y, Z, X_adv, *, slope=0.0, device="cpu"):
    r"""Lazy-regime predictor of the network trained on adversarial examples.

    ``hat_g(z) = (1/N) sum_n Phi(x_adv_n, z) q_n . z`` with
    ``q_n = (1/N) sum_k y_k Phi(x_n, x_k) x_k``: a network ``g`` trained on
    ``(x_adv_n, y_adv_n)``, where ``x_adv_n`` carries the perturbation of
    ``x_n`` along ``y_adv_n q_n`` (theorem 3.3), learns the sum of the
    ``q_n . z``, weighted by ``Phi(x_adv_n, z)``. The target labels cancel:
    ``y_adv_n`` times the perturbation is ``q_n`` up to a positive factor.
    This is the formula of the authors' theory code, which drops that factor.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Clean training inputs of ``f``.
    y : array-like of shape (n_samples,)
        Clean training labels of ``f``, in {-1, +1}.
    Z : array-like of shape (n_queries, n_features)
        Points at which to evaluate.
    X_adv : array-like of shape (n_samples, n_features)
        The adversarial examples ``g`` was trained on, row n made from
        ``x_n``: the perturbations ``r_n`` themselves in scenario (a),
        ``x_n + r_n`` in scenario (b).
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where the computation runs.

    Returns
    -------
    values : ndarray of shape (n_queries,)

    See Also
    --------
    hat_f : The predictor of the network trained on clean data.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import hat_g
    >>> X, y = [[1.0, 0.0], [-1.0, 0.0]], [1, -1]
    >>> X_adv = [[0.01, 0.0], [0.01, 0.0]]
    >>> hat_g(X, y, [[2.0, 0.0], [-2.0, 0.0]], X_adv).round(3)
    array([ 0.281, -0.279], dtype=float32)
    """
    device = check_device(device)
    X = check_float_array(X)
    y = _check_signed_labels(y, X)
    Z = _check_like(Z, X, "Z")
    X_adv = _check_like(X_adv, X, "X_adv", same_shape=True)
    X_t, y_t, Z_t, X_adv_t = _to_tensors([X, y.astype(X.dtype), Z, X_adv], device)
    sums = _direction_sums(X_t, y_t, slope)
    return _to_numpy(_hat_g_from_sums(X_adv_t, sums, Z_t, slope))


class LazyRegimeClassifier(ClassifierMixin, BaseEstimator):
    r"""The infinite-width, identity-loss limit of the two-layer network.

    The decision function is :func:`hat_f` of the training data,
    ``(1/N) sum_n y_n Phi(x_n, z) (x_n . z)``, which a wide network trained
    with the identity loss follows up to a positive factor (a kernel machine
    with the kernel ``Phi(x, z) (x . z)`` and fixed dual coefficients). As an
    estimator it can be scored, cross-validated and compared with a trained
    network by the same tools. With K > 2 classes the decision function of
    class k uses the coefficients ``1[y_n = k] - 1/K``, the limit of the
    network's K-class identity loss; for two classes this is ``hat_f`` with
    ``classes_[1]`` as +1.

    Fitted on adversarial examples ``(X_adv, y_adv)`` it is the lazy limit of
    the network ``g`` itself, which :func:`hat_g` approximates through the
    direction of theorem 3.3.

    Parameters
    ----------
    slope : float, default=0.0
        Negative slope of the leaky ReLU, in [0, 1).
    device : str or torch.device, default="cpu"
        Where ``decision_function`` computes, e.g. ``"cuda"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    X_fit_ : ndarray of shape (n_samples, n_features)
        The training inputs, which the decision function sums over.
    dual_coef_ : ndarray of shape (n_samples,) or (n_classes, n_samples)
        The weight of each training sample: ``y_n / N`` for two classes
        (``y_n`` in {-1, +1}), ``(1[y_n = k] - 1/K) / N`` for K classes.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    hat_f : The decision function as a plain function.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import LazyRegimeClassifier
    >>> X = [[1.0, 0.2], [0.8, -0.1], [-1.0, 0.1], [-0.9, -0.3]]
    >>> clf = LazyRegimeClassifier().fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[2.0, 0.0], [-2.0, 0.5]])
    array(['a', 'b'], dtype='<U1')
    """

    _parameter_constraints = {"slope": SLOPE_CONSTRAINT, "device": DEVICE_CONSTRAINT}

    def __init__(self, slope=0.0, device="cpu"):
        self.slope = slope
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store the training data and the dual coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels, any two or more.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        check_device(self.device)
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "LazyRegimeClassifier needs samples of at least 2 classes in the "
                f"data; got 1 class: {self.classes_[0]!r}."
            )
        n_samples = X.shape[0]
        if n_classes == 2:
            coef = 2.0 * encoded - 1.0
        else:
            coef = (encoded == np.arange(n_classes)[:, None]) - 1.0 / n_classes
        self.X_fit_ = X
        self.dual_coef_ = (coef / n_samples).astype(X.dtype)
        return self

    @limit_threads(lazy_regime_work)
    def decision_function(self, X):
        """Return ``hat_f`` of the training data at ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Points at which to evaluate.

        Returns
        -------
        scores : ndarray of shape (n_queries,) or (n_queries, n_classes)
            For two classes, positive scores mean ``classes_[1]``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        device = check_device(self.device)
        X_fit, coef, Z = _to_tensors([self.X_fit_, self.dual_coef_, X], device)
        scores = _lazy_sums(X_fit, coef.reshape(-1, X_fit.shape[0]), Z, self.slope)
        return _to_numpy(scores[0] if len(self.classes_) == 2 else scores.T)

    def predict(self, X):
        """Predict the class of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Points to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            The class with the largest score; for two classes ``classes_[1]``
            where the decision function is positive.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]


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
    agree, and ``hat_f`` and ``hat_g``. The grid is processed in blocks, so
    its size in memory is that of a few rows, whatever ``n_features``.

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
        The adversarial examples ``g`` was trained on, for :func:`hat_g`.
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
    y = _check_signed_labels(y, X)
    if X_adv is not None:
        X_adv = _check_like(X_adv, X, "X_adv", same_shape=True)
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
    X_t, y_t, *X_adv_t = _to_tensors(arrays, device)
    sums = None if X_adv is None else _direction_sums(X_t, y_t, slope)
    coef = y_t[None] / X_t.shape[0]
    values = {key: np.empty(resolution * resolution) for key in ("f", "g", "hat_f")}
    values["hat_g"] = None if X_adv is None else np.empty(resolution * resolution)
    flat = np.column_stack([xx.ravel(), yy.ravel()])
    step = max(1, _BLOCK_ELEMENTS // max(X.shape[0], X.shape[1]))
    for start in range(0, len(flat), step):
        rows = slice(start, start + step)
        grid = flat[rows] @ axes
        values["f"][rows] = _decision_values(f, grid, "f")
        values["g"][rows] = _decision_values(g, grid, "g")
        grid_t = torch.as_tensor(grid, dtype=X_t.dtype, device=device)
        values["hat_f"][rows] = _to_numpy(_lazy_sums(X_t, coef, grid_t, slope)[0])
        if sums is not None:
            values["hat_g"][rows] = _to_numpy(
                _hat_g_from_sums(X_adv_t[0], sums, grid_t, slope)
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
