"""The paper's theory as tools.

The kernel ``Phi`` of the lazy (infinite-width) regime, the direction that
theorem 3.3 predicts for a perturbation, the lazy-regime predictors ``hat_f``
and ``hat_g`` of theorems 3.4 and 3.5, :class:`LazyRegimeClassifier` (``hat_f``
as a scikit-learn classifier) and the data of the authors' decision maps
(:func:`decision_map`).

``Phi`` has a closed form (the arcsine kernel of a centred bivariate Gaussian),
so nothing here needs Monte Carlo; the authors' estimator is kept as
``phi_kernel(method="monte_carlo")`` for comparison. All sums over the training
set run in blocks of query points that hold at most scikit-learn's
``working_memory`` of kernel entries (in MiB, 1024 by default; set it with
:func:`sklearn.config_context`), so ten thousand training points against a
400 x 400 grid need no more. Computations run in torch on ``device``, in
float64 when any input is float64 and in float32 otherwise, whatever
``torch.autocast`` the caller runs under, and come back as numpy arrays.

This module holds the public functions; the engine they share is the private
``_kernel`` module. :class:`LazyRegimeClassifier` and :func:`decision_map`
are defined in ``_lazy_regime`` and ``_decision_map`` and public here.
"""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from . import _kernel
from ._decision_map import decision_map
from ._kernel import check_like, check_signed_labels, to_numpy, to_tensors
from ._lazy_regime import LazyRegimeClassifier
from ._threads import kernel_work, limit_threads
from ._validation import (
    DEVICE_CONSTRAINT,
    SLOPE_CONSTRAINT,
    check_device,
    check_float_array,
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


@validate_params(
    {
        "X": ["array-like"],
        "Z": ["array-like", None],
        "slope": SLOPE_CONSTRAINT,
        "method": [StrOptions({"exact", "monte_carlo"})],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
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
    elsewhere; float64 is accurate to about ``1e-8`` everywhere. The products
    run in that dtype under ``torch.autocast`` too.

    Examples
    --------
    >>> from sklearn_pertlearn.theory import phi_kernel
    >>> phi_kernel([[1.0, 0.0], [0.0, 1.0]], slope=0.5).round(4)
    array([[0.625 , 0.5915],
           [0.5915, 0.625 ]], dtype=float32)
    """
    device = check_device(device)
    X = check_float_array(X)
    if Z is None:
        (X_t,) = to_tensors([X], device)
        Z_t = None
    else:
        Z = check_like(Z, X, "Z")
        X_t, Z_t = to_tensors([X, Z], device)
    if method == "exact":
        return to_numpy(_kernel.phi(X_t, Z_t, slope))
    return to_numpy(_kernel.monte_carlo_phi(X_t, Z_t, slope, n_draws, random_state))


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
    y = check_signed_labels(y, X)
    X_t, y_t = to_tensors([X, y.astype(X.dtype)], device)
    return to_numpy(_kernel.unit_directions(X_t, y_t, slope))


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
    y = check_signed_labels(y, X)
    perturbations = check_like(perturbations, X, "perturbations", same_shape=True)
    X_t, y_t, r_t = to_tensors([X, y.astype(X.dtype), perturbations], device)
    return _kernel.mean_abs_cosine(X_t, y_t, r_t, slope)


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
    y = check_signed_labels(y, X)
    Z = check_like(Z, X, "Z")
    X_t, y_t, Z_t = to_tensors([X, y.astype(X.dtype), Z], device)
    return to_numpy(_kernel.hat_f_values(X_t, y_t, Z_t, slope))


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
    y = check_signed_labels(y, X)
    Z = check_like(Z, X, "Z")
    X_adv = check_like(X_adv, X, "X_adv", same_shape=True)
    X_t, y_t, Z_t, X_adv_t = to_tensors([X, y.astype(X.dtype), Z, X_adv], device)
    sums = _kernel.direction_sums(X_t, y_t, slope)
    return to_numpy(_kernel.hat_g_from_sums(X_adv_t, sums, Z_t, slope))


