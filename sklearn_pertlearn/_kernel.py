"""The engine of :mod:`sklearn_pertlearn.theory`: the kernel Phi and the sums over it.

Inputs are checked as the theory's points and labels, then moved to torch in
one dtype, float64 when any input is float64 and float32 otherwise. Every
computation runs in that dtype with autocast off, so that a caller's
``torch.autocast`` cannot round the kernel's products to 16 bits: under CPU
bfloat16 autocast, ``Phi`` of nearly parallel points, where ``arcsin`` is
steep, was measured 2e-3 off its float64 value, against 7e-5 in float32.

Memory: beside their results (the kernel itself, one value per query point)
and arrays of the size of their inputs, the computations hold at most
scikit-learn's working memory of kernel entries at once,
``sklearn.get_config()["working_memory"]`` MiB (1024 by default;
``sklearn.config_context(working_memory=...)`` changes it), and on a CPU
what :mod:`sklearn_pertlearn._memory` keeps in the cache. The sums
over the training set run in blocks of query points, each computed as it
would be alone; the block size changes only the rounding of the matrix
products, whose BLAS kernels depend on their shapes.
"""

import functools
import math

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._memory import row_chunks
from ._precision import own_products
from ._network import leaky_relu_derivative_
from ._validation import check_float_array, check_n_features, to_tensor

# Rows per strip of a symmetric kernel, which is written in place in the
# result. Measured on one thread in float32: strips of 64 to 512 rows are
# equally fast at N = 1000 and 3000, and at N = 10 000, d = 1000 strips of
# 256 rows took 1.43 s against 1.66 s for four strips of 2500 (more, smaller
# strips leave out more of the lower triangle).
_STRIP_ROWS = 256



def check_like(A, X, name, *, same_shape=False):
    """Validate ``A`` as points in the space of the validated ``X``.

    They must have the features of ``X``, and with ``same_shape`` one row per
    row of ``X`` (perturbations or adversarial examples of ``X``).
    """
    A = check_float_array(A, name)
    if same_shape and A.shape != X.shape:
        raise ValueError(f"{name} must have the shape of X, {X.shape}; got {A.shape}.")
    check_n_features(A, X.shape[1], name=name, reference="X has")
    return A


def check_signed_labels(y, X):
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


def common_dtype(arrays):
    """The torch dtype of a computation on ``arrays``: float64 if any is float64."""
    wide = any(a.dtype == np.float64 for a in arrays)
    return torch.float64 if wide else torch.float32


def to_tensors(arrays, device):
    """Move arrays to ``device`` in their :func:`common_dtype`."""
    dtype = common_dtype(arrays)
    return [to_tensor(a, dtype, device) for a in arrays]


def to_numpy(tensor):
    return tensor.cpu().numpy()


def query_bytes(X):
    """Working memory of one query point in the sums over the rows of ``X``.

    A block of kernel columns ``Phi(X, z)`` and one product of its shape.
    """
    return 2 * X.shape[0] * X.element_size()


def _batches(n, size):
    """Slices of ``range(n)`` of ``size`` items, the last one shorter.

    ``sklearn.utils.gen_batches`` without its parameter validation, which
    costs 45 us a call outside a validated function.
    """
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def query_batches(n_queries, row_bytes, device_type="cpu"):
    """Slices of the query points, as many per slice as the working memory holds.

    On a CPU also within the cache (:mod:`sklearn_pertlearn._memory`):
    hat_f of N = 1000, d = 100 at 160 000 points took 0.71 s in blocks of
    8 MiB, 0.88 s in blocks of 64 MiB and 1.7 s in blocks of 1 GiB.
    """
    return row_chunks(n_queries, row_bytes, device_type)


def _in_own_dtype(function):
    """Run ``function`` with the library's own products on the device of its first argument."""

    @functools.wraps(function)
    def wrapper(X, *args, **kwargs):
        with own_products(X.device.type):
            return function(X, *args, **kwargs)

    return wrapper


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
    passes instead of a second matrix product. A block and one more product
    of its shape fit in the working memory (and on a CPU in the cache).
    """
    n_features = X.shape[1]
    if with_gram:
        x_scale = torch.rsqrt(X.square().sum(dim=1) / n_features + 1.0)
        z_scale = torch.rsqrt(Z.square().sum(dim=1) / n_features + 1.0)
    else:
        X_unit = _unit_rows(X)
        Z_unit = X_unit if Z is X else _unit_rows(Z)
    for columns in query_batches(Z.shape[0], query_bytes(X), X.device.type):
        if with_gram:
            gram = X @ Z[columns].T
            rho = gram / n_features + 1.0
            rho.mul_(x_scale[:, None]).mul_(z_scale[None, columns])
        else:
            gram, rho = None, X_unit @ Z_unit[columns].T
        yield columns, _phi_from_rho(rho, slope), gram


def _strip_rows(n_samples):
    """Rows per strip of a symmetric kernel: at least four strips (5/8 of the
    work), at most ``_STRIP_ROWS`` rows each."""
    return max(1, min(-(-n_samples // 4), _STRIP_ROWS))


def _symmetric(n_samples, like, fill_strip):
    """An exactly symmetric (n_samples, n_samples) matrix, strip by strip.

    ``fill_strip(rows, strip)`` writes the entries of ``rows`` against the
    columns from ``rows.start`` on into ``strip``, a view of the result; the
    entries below the diagonal are mirrored from above it. This takes at most
    5/8 of the products of the whole matrix, and no memory beside the result
    but a tile of the diagonal.
    """
    out = like.new_empty((n_samples, n_samples))
    step = _strip_rows(n_samples)
    tile_buffer = like.new_empty((step, step))
    for rows in _batches(n_samples, step):
        width = rows.stop - rows.start
        strip = out[rows, rows.start :]
        fill_strip(rows, strip)
        # The tile on the diagonal may round differently above and below it
        # (BLAS's in-order dot products usually make it symmetric already);
        # floating-point addition commutes, so the mean with its transpose
        # is exactly symmetric.
        tile = strip[:, :width]
        if not torch.equal(tile, tile.T):
            mean = torch.add(tile, tile.T, out=tile_buffer[:width, :width])
            torch.mul(mean, 0.5, out=tile)
        out[rows.stop :, rows] = strip[:, width:].T
    return out


@_in_own_dtype
def phi(X, Z, slope):
    """The kernel ``Phi(X, Z)``; ``Z=None`` means ``X``, exactly symmetric."""
    if Z is not None:
        out = X.new_empty((X.shape[0], Z.shape[0]))
        for columns, block, _ in _phi_blocks(X, Z, slope):
            out[:, columns] = block
        return out

    unit = _unit_rows(X)

    def fill_strip(rows, strip):
        _phi_from_rho(torch.mm(unit[rows], unit[rows.start :].T, out=strip), slope)

    out = _symmetric(X.shape[0], X, fill_strip)
    # rho = 1 exactly on the diagonal, where arcsin, next to its branch
    # point, would lose half of the digits.
    out.diagonal().fill_((1.0 + slope**2) / 2.0)
    return out


@_in_own_dtype
def monte_carlo_phi(X, Z, slope, n_draws, random_state):
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
    if Z is None:

        def fill_strip(rows, strip):
            torch.mm(x_derivative[rows], x_derivative[rows.start :].T, out=strip)
            strip.div_(n_draws)

        return _symmetric(X.shape[0], X, fill_strip)

    out = X.new_empty((X.shape[0], Z.shape[0]))
    row_bytes = (n_draws + X.shape[0]) * X.element_size()
    for columns in query_batches(Z.shape[0], row_bytes, X.device.type):
        out[:, columns] = x_derivative @ derivative(Z[columns]).T / n_draws
    return out


@_in_own_dtype
def direction_sums(X, y, slope):
    """Rows ``(1/N) sum_k y_k Phi(x_n, x_k) x_k`` of theorem 3.3, shape (N, d)."""
    sums = torch.empty_like(X)
    for columns, block, _ in _phi_blocks(X, X, slope):
        # Phi(X, X) is symmetric: column block j holds the rows Phi(x_j, X).
        sums[columns] = block.mul_(y[:, None]).T @ X
    return sums.div_(X.shape[0])


@_in_own_dtype
def unit_directions(X, y, slope):
    """The rows of :func:`direction_sums` normalised (a zero row stays zero)."""
    return torch.nn.functional.normalize(direction_sums(X, y, slope), dim=1)


@_in_own_dtype
def mean_abs_cosine(X, y, perturbations, slope):
    """``mean_n |cos(r_n, q_n)|`` with ``q_n`` the rows of :func:`direction_sums`."""
    cosine = unit_directions(X, y, slope) * torch.nn.functional.normalize(
        perturbations, dim=1
    )
    return float(cosine.sum(dim=1).abs_().mean())


@_in_own_dtype
def lazy_sums(X, coef, Z, slope):
    """``coef @ (Phi(X, Z) * X Z^T)``: hat_f for each row of ``coef`` (K, N)."""
    out = Z.new_empty((coef.shape[0], Z.shape[0]))
    for columns, block, gram in _phi_blocks(X, Z, slope, with_gram=True):
        out[:, columns] = coef @ block.mul_(gram)
    return out


def hat_f_values(X, y, Z, slope):
    """``hat_f(z) = (1/N) sum_n y_n Phi(x_n, z) (x_n . z)`` for every row z of Z."""
    return lazy_sums(X, y[None] / X.shape[0], Z, slope)[0]


@_in_own_dtype
def hat_g_from_sums(X_adv, sums, Z, slope):
    """``(1/N) sum_n Phi(x_adv_n, z) (sums_n . z)`` for every row z of Z."""
    out = Z.new_empty(Z.shape[0])
    for columns, block, _ in _phi_blocks(X_adv, Z, slope):
        out[columns] = block.mul_(sums @ Z[columns].T).mean(dim=0)
    return out
