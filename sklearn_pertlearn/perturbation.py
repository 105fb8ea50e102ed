"""Targeted gradient attacks on a fitted network, and the target labels.

These are plain functions on a torch module that maps inputs of shape
``(n, d)`` to margins ``(n,)`` (two classes, the paper's case) or to logits
``(n, K)``. Targets are class indices: with margins, index 1 is the class of
positive margins (the label +1) and index 0 the label -1.

The paper's perturbation (``norm="l2"``, ``steps=1``) is one targeted L2
gradient step of length exactly ``epsilon``, computed at x. For two classes it
is ``epsilon * y_t * grad f(x) / ||grad f(x)||`` with ``y_t`` in {-1, +1}; for
K classes the step raises the target's logit over the mean logit,
``f_t(x) - mean_k f_k(x)``: minus the K-class identity loss, which for two
classes is the paper's step again. Since every step is normalised, the scale
of the loss does not matter, only its direction.

A module with a closed-form ``input_gradient(X, grad_output)`` method (as
:class:`~sklearn_pertlearn._network.TwoLayerNetwork` has) is differentiated
without autograd: since the scores are linear in the outputs, one step is
then two matrix products (three for logits) and needs no output of f at all.
Any other module goes through autograd.
"""

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import validate_parameter_constraints, validate_params

from ._constraints import ATTACK, BASE, TARGETS
from ._network import identity_gradient, signed_targets
from ._precision import own_products
from ._threads import attack_work, limit_threads
from ._validation import FLOAT_DTYPES, check_float_array, check_n_features, to_tensor

# The two attack functions check these directly rather than through
# ``validate_params``, whose per-call overhead is a tenth of an attack on a
# thousand points.
_TARGETED_PERTURBATION_CONSTRAINTS = {
    "module": [torch.nn.Module],
    "X": ["array-like"],
    "target": ["array-like"],
    **ATTACK,
}
_ADVERSARIAL_EXAMPLES_CONSTRAINTS = {
    **_TARGETED_PERTURBATION_CONSTRAINTS,
    "base": BASE,
    "random_state": ["random_state"],
}


def _module_dtype_and_device(module):
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype, tensor.device
    return torch.float32, torch.device("cpu")


def _dense_rows(X, rows, dtype, device):
    """The ``rows`` of ``X`` as a dense tensor: a sparse X is densified a batch at a time."""
    block = X[rows]
    if issparse(block):
        block = block.toarray()
    return to_tensor(block, dtype, device)


def median_row_norm(X, norm):
    """Median over the rows of ``X`` of their norm in the attack's ``norm`` ("l2" or "linf").

    The scale that ``epsilon="auto"`` takes a fraction of. ``X`` may be a
    scipy sparse matrix.
    """
    if issparse(X):
        if norm == "l2":
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        else:
            norms = abs(X).max(axis=1).toarray().ravel()
    else:
        norms = np.linalg.norm(X, ord=2 if norm == "l2" else np.inf, axis=1)
    return float(np.median(norms))


# epsilon="auto" is this fraction of the median row norm of the training data,
# by base. Measured with perturbation learning on scikit-learn's iris, wine,
# breast_cancer and digits, standardized (docs/own_data.rst): in scenario a,
# g's accuracy is flat from 0.3 to 1 times the median norm and lower below
# (digits, width 100: 0.84 at 0.1, 0.91 at 0.3 and 1); in scenario b the data
# themselves carry no information about the random targets, so the
# perturbation must outweigh them: g needs 1 to 4 times the norm
# (breast_cancer: 0.86 at 1, 0.95 at 2 and 4).
_AUTO_EPSILON = {"none": 0.3, "data": 2.0, "uniform": 2.0}


def resolve_epsilon(epsilon, X, norm, base):
    """``epsilon`` as a number: itself, or for ``"auto"`` a fraction of the rows' scale.

    The fraction of :func:`median_row_norm` depends on ``base`` (see
    :class:`~sklearn_pertlearn.AdversarialPerturbationTransformer`).
    """
    if epsilon != "auto":
        return float(epsilon)
    return _AUTO_EPSILON[base] * median_row_norm(X, norm)


def module_outputs(module, X):
    """Outputs per row of ``module``: 1 for margins ``(n,)``, K for logits ``(n, K)``.

    Read from the module's ``n_outputs`` where it has one, else from its
    output on the rows of ``X`` (one is enough).
    """
    n_outputs = getattr(module, "n_outputs", None)
    if n_outputs is None:
        dtype, device = _module_dtype_and_device(module)
        with torch.no_grad(), own_products(device.type):
            probe = module(_dense_rows(X, slice(0, 1), dtype, device))
        n_outputs = 1 if probe.dim() == 1 else probe.shape[1]
    return n_outputs


def _check_clip(clip):
    if clip is None:
        return None
    if len(clip) != 2 or not clip[0] < clip[1]:
        raise ValueError(
            f"clip must be a pair (low, high) with low < high, got {clip!r}."
        )
    return float(clip[0]), float(clip[1])


def _check_finite(array, what, epsilon):
    """Return ``array``, or raise a ValueError that says why it is not finite."""
    # A finite sum proves every entry finite; a sum that overflows does not
    # prove the opposite.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(array.sum()) or np.isfinite(array).all():
            return array
    raise ValueError(
        f"The {what} are not finite (NaN or infinity), so nothing can learn from "
        f"them: either epsilon={epsilon:.3g} overflows the {array.dtype} range, or "
        "the attacked network's weights or outputs are not finite (a diverged "
        "fit). Use a smaller epsilon, float64, or refit the network on scaled inputs."
    )


def _target_ascent_gradient(target, n_outputs, dtype):
    """Gradient, with respect to the outputs, of the score the attack raises.

    For margins the score is ``y_t f(x)``; for logits it is
    ``f_t(x) - mean_k f_k(x)``: minus the identity loss of the target, so
    the gradient needs no forward pass, and for any increasing loss
    ``l(-y_t f(x))`` the normalised step is the same. (The cross entropy of
    the target, the other common choice, weighs the logits by f's
    probabilities: where f is confident its step is ``grad f_t - grad f_y``,
    which carries the true class y as much as the target. With this score g
    learned more from the perturbations: on standardized digits, width 100,
    the same 3 folds, g's accuracy rose from 0.895 to 0.909 and its agreement
    with f from 0.914 to 0.930.)
    """
    return -identity_gradient(target, n_outputs, dtype)


def _ascent_direction(module, X, target, n_outputs):
    """Input gradient of the target score at ``X``, as ``(gradient, sign)``.

    The gradient is ``sign * gradient``, row by row: ``sign`` is a tensor of
    shape ``(n, 1)`` where it is cheaper to fold it into the step length, and
    ``1.0`` otherwise.
    """
    if n_outputs == 1 and hasattr(module, "margin_gradient"):
        # The score y_t f(x) needs no forward pass: its gradient is the
        # margin's, with the sign of the target.
        with torch.no_grad():
            return module.margin_gradient(X), signed_targets(target, X.dtype)[:, None]
    grad_output = _target_ascent_gradient(target, n_outputs, X.dtype)
    if hasattr(module, "input_gradient"):
        with torch.no_grad():
            return module.input_gradient(X, grad_output), 1.0
    with torch.enable_grad():
        X = X.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(module(X), X, grad_output)
    return grad, 1.0


def _step(direction, norm, length):
    """Steepest-ascent step of ``length``, made in place of ``direction``.

    ``length`` is a number or a tensor of shape ``(n, 1)``, whose sign turns
    the step of its row around. Rows whose gradient is zero give a zero step,
    never NaN.
    """
    if norm == "linf":
        return direction.sign_().mul_(length)
    row_norm = torch.linalg.vector_norm(direction, dim=1, keepdim=True)
    return direction.mul_(length / row_norm.clamp_min(torch.finfo(direction.dtype).tiny))


def _project(delta, epsilon, norm):
    """Project the rows of ``delta`` onto the epsilon ball around 0."""
    if norm == "linf":
        return delta.clamp_(-epsilon, epsilon)
    length = torch.linalg.vector_norm(delta, dim=1, keepdim=True)
    scale = (epsilon / length.clamp_min(torch.finfo(delta.dtype).tiny)).clamp_(max=1)
    return delta.mul_(scale)


def _class_index(labels, classes, name):
    """Positions of ``labels`` in ``classes``, which need not be sorted."""
    labels, classes = np.asarray(labels), np.asarray(classes)
    order = np.argsort(classes, kind="stable")
    position = np.searchsorted(classes, labels, sorter=order).clip(max=len(classes) - 1)
    index = order[position]
    unknown = classes[index] != labels
    if unknown.any():
        raise ValueError(
            f"{name} contains labels that are not in classes: "
            f"{np.unique(labels[unknown]).tolist()}."
        )
    return index


def _check_attack_input(X, target, clip):
    if issparse(X):
        X = check_array(X, accept_sparse="csr", dtype=FLOAT_DTYPES)
    else:
        X = check_float_array(X)
    target = np.asarray(target)
    if target.shape != (X.shape[0],):
        raise ValueError(
            f"target must have shape ({X.shape[0]},) to match X, "
            f"got {target.shape}."
        )
    if not np.issubdtype(target.dtype, np.integer):
        raise ValueError(
            f"target must hold integer class indices, got dtype {target.dtype}."
        )
    return X, target, _check_clip(clip)


def targeted_perturbation(
    module,
    X,
    target,
    *,
    epsilon,
    norm="l2",
    steps=1,
    step_size=None,
    clip=None,
    batch_size=8192,
):
    """Return targeted adversarial perturbations ``r`` of ``X``.

    With ``steps=1`` and ``norm="l2"`` this is the paper's perturbation, the
    targeted fast-gradient L2 step: ``r`` has length exactly ``epsilon`` in
    every row (zero where the gradient vanishes). More steps run projected
    gradient descent from ``X``, each step of length ``step_size``, projected
    back onto the ``epsilon`` ball around ``X``.

    Parameters
    ----------
    module : torch.nn.Module
        Fitted network mapping ``(n, d)`` inputs to margins ``(n,)`` or to
        logits ``(n, K)``, e.g. ``WideTwoLayerNetClassifier().fit(X, y).module_``.
        It is used as is, on its own device and in its own floating point type.
    X : array-like of shape (n_samples, n_features)
        Points at which the attack starts.
    target : array-like of shape (n_samples,)
        Target class indices: 0 or 1 for margins (1 is the class of positive
        margins), 0 to K - 1 for logits.
    epsilon : float
        Radius of the perturbation, at least 0.
    norm : {"l2", "linf"}, default="l2"
        Norm of the ball. ``"linf"`` steps along the sign of the gradient.
    steps : int, default=1
        Number of gradient steps; more than 1 is projected gradient descent.
    step_size : float, default=None
        Length of each step; ``None`` means ``2.5 * epsilon / steps``.
    clip : tuple of (float, float), default=None
        Range ``(low, high)`` that the perturbed points ``X + r`` are clipped
        to, e.g. ``(0, 1)`` for images; ``None`` does not clip.
    batch_size : int, default=8192
        Number of rows attacked at once; bounds the memory used.

    Returns
    -------
    perturbation : ndarray of shape (n_samples, n_features)
        The perturbations ``r``, in the floating point type of ``X`` (float32
        unless ``X`` is float64).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pertlearn._network import TwoLayerNetwork
    >>> from sklearn_pertlearn.perturbation import targeted_perturbation
    >>> net = TwoLayerNetwork(n_features=5, hidden_dim=50, seed=0)
    >>> X = np.ones((3, 5), dtype=np.float32)
    >>> r = targeted_perturbation(net, X, [0, 1, 1], epsilon=0.5)
    >>> np.linalg.norm(r, axis=1).round(4)
    array([0.5, 0.5, 0.5], dtype=float32)
    """
    validate_parameter_constraints(
        _TARGETED_PERTURBATION_CONSTRAINTS,
        dict(module=module, X=X, target=target, epsilon=epsilon, norm=norm, steps=steps,
             step_size=step_size, clip=clip, batch_size=batch_size),
        caller_name="targeted_perturbation",
    )
    X, target, clip = _check_attack_input(X, target, clip)
    return _perturb(
        module,
        X,
        target,
        epsilon=epsilon,
        norm=norm,
        steps=steps,
        step_size=step_size,
        clip=clip,
        batch_size=batch_size,
    )


@limit_threads(attack_work)
def _perturb(module, X, target, *, epsilon, norm, steps, step_size, clip, batch_size):
    """:func:`targeted_perturbation` on input that ``_check_attack_input`` passed."""
    dtype, device = _module_dtype_and_device(module)
    check_n_features(
        X, getattr(module, "n_features", X.shape[1]), name="X", reference="the module expects"
    )
    if step_size is None:
        step_size = 2.5 * epsilon / steps

    n_outputs = module_outputs(module, X[:1])
    n_classes = max(n_outputs, 2)
    if target.min() < 0 or target.max() >= n_classes:
        raise ValueError(
            f"target must hold class indices in [0, {n_classes - 1}] for this "
            f"module, got values in [{target.min()}, {target.max()}]."
        )

    # Each batch is written into the result as it is done, so that memory
    # holds the result and one batch, whatever the number of rows.
    perturbation = np.empty(X.shape, dtype=X.dtype)
    # The caller's autocast (or TF32) must not round the attack's products.
    with own_products(device.type):
        for start in range(0, X.shape[0], batch_size):
            x = _dense_rows(X, slice(start, start + batch_size), dtype, device)
            t = to_tensor(target[start : start + batch_size], torch.int64, device)
            # From delta = 0 the first step, projected, is min(step_size,
            # epsilon) long: with the default step size that is the paper's
            # perturbation, exactly epsilon long.
            direction, sign = _ascent_direction(module, x, t, n_outputs)
            delta = _step(direction, norm, min(step_size, epsilon) * sign)
            for step in range(steps):
                if step:
                    direction, sign = _ascent_direction(module, x + delta, t, n_outputs)
                    delta.add_(_step(direction, norm, step_size * sign))
                    _project(delta, epsilon, norm)
                if clip is not None:
                    delta = (x + delta).clamp_(*clip).sub_(x)
            delta = delta.cpu()
            # Checked in the network's dtype, which is where an epsilon overflows.
            _check_finite(delta.numpy(), "perturbations", epsilon)
            perturbation[start : start + batch_size] = delta.numpy()
    return perturbation


def adversarial_examples(
    module,
    X,
    target,
    *,
    epsilon,
    norm="l2",
    steps=1,
    step_size=None,
    base="none",
    clip=None,
    batch_size=8192,
    random_state=None,
):
    """Return the adversarial examples that the student network learns from.

    Parameters
    ----------
    module : torch.nn.Module
        Fitted network, as in :func:`targeted_perturbation`.
    X : array-like of shape (n_samples, n_features)
        Natural data.
    target : array-like of shape (n_samples,)
        Target class indices, as in :func:`targeted_perturbation`.
    epsilon : float
        Radius of the perturbation, at least 0.
    norm : {"l2", "linf"}, default="l2"
        Norm of the ball.
    steps : int, default=1
        Number of gradient steps.
    step_size : float, default=None
        Length of each step; ``None`` means ``2.5 * epsilon / steps``.
    base : {"none", "data", "uniform"}, default="none"
        What the perturbation is put on:

        - ``"none"``: the perturbation alone, ``x_adv = r(x)`` (the paper's
          scenario a; the gradient is still taken at x);
        - ``"data"``: ``x_adv = x + r(x)`` (scenario b);
        - ``"uniform"``: ``x_adv = u + r(u)`` with ``u`` drawn uniformly from
          the ``clip`` range, or from [0, 1] when ``clip`` is None; ``X``
          then only gives the shape.
    clip : tuple of (float, float), default=None
        Range that ``x + r`` is clipped to; ``None`` does not clip.
    batch_size : int, default=8192
        Number of rows attacked at once.
    random_state : int, RandomState instance or None, default=None
        Draws the uniform noise of ``base="uniform"``.

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
        Adversarial examples, in the floating point type of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pertlearn._network import TwoLayerNetwork
    >>> from sklearn_pertlearn.perturbation import adversarial_examples
    >>> net = TwoLayerNetwork(n_features=4, hidden_dim=50, seed=0)
    >>> X = np.zeros((2, 4), dtype=np.float32)
    >>> X_adv = adversarial_examples(net, X, [0, 1], epsilon=0.1, base="uniform",
    ...                              random_state=0)
    >>> X_adv.shape
    (2, 4)
    """
    validate_parameter_constraints(
        _ADVERSARIAL_EXAMPLES_CONSTRAINTS,
        dict(module=module, X=X, target=target, epsilon=epsilon, norm=norm, steps=steps,
             step_size=step_size, base=base, clip=clip, batch_size=batch_size,
             random_state=random_state),
        caller_name="adversarial_examples",
    )
    X, target, clip = _check_attack_input(X, target, clip)
    return _adversarial_examples(
        module,
        X,
        target,
        base=base,
        random_state=random_state,
        epsilon=epsilon,
        norm=norm,
        steps=steps,
        step_size=step_size,
        clip=clip,
        batch_size=batch_size,
    )


def _adversarial_examples(module, X, target, *, base, random_state, **attack):
    """:func:`adversarial_examples` on input that ``_check_attack_input`` passed."""
    if base == "uniform":
        low, high = attack["clip"] if attack["clip"] is not None else (0.0, 1.0)
        rng = check_random_state(random_state)
        X = rng.uniform(low, high, size=X.shape).astype(X.dtype)
    perturbation = _perturb(module, X, target, **attack)
    if base == "none":
        return perturbation
    # In place: the perturbations are this function's own array.
    if issparse(X):
        for start in range(0, X.shape[0], attack["batch_size"]):
            rows = slice(start, start + attack["batch_size"])
            perturbation[rows] += X[rows].toarray()
    else:
        np.add(perturbation, X, out=perturbation)
    return _check_finite(perturbation, "adversarial examples x + r", attack["epsilon"])


@validate_params(
    {
        "y": ["array-like"],
        "classes": ["array-like"],
        "strategy": TARGETS,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_targets(y, classes, *, strategy="balanced", random_state=None):
    """Draw the target label of every sample.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels, all of them in ``classes``. ``"balanced"`` and
        ``"random"`` use only their number.
    classes : array-like of shape (n_classes,)
        The sorted class labels, e.g. a fitted classifier's ``classes_``.
    strategy : {"balanced", "random", "random_other", "shift"}, \
            default="balanced"
        - ``"balanced"``: random and independent of ``y``, with every class
          equally often (up to one when the classes do not divide the sample
          count). With the identity loss an imbalance in the targets is
          absorbed by the student's bias and can bring it to chance, which
          this rules out.
        - ``"random"``: uniform over all classes, independently of ``y`` (the
          authors' choice; about half of the targets equal ``y`` for two
          classes).
        - ``"random_other"``: uniform over the classes other than ``y``
          (Ilyas et al.'s D_rand).
        - ``"shift"``: the next class, ``(y + 1) mod K`` in the order of
          ``classes`` (Ilyas et al.'s D_det); the flipped label for two
          classes.
    random_state : int, RandomState instance or None, default=None
        Seeds the random strategies.

    Returns
    -------
    y_target : ndarray of shape (n_samples,)
        Target labels, taken from ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pertlearn.perturbation import make_targets
    >>> make_targets([-1, 1, 1], [-1, 1], strategy="shift")
    array([ 1, -1, -1])
    >>> np.bincount(make_targets([0] * 6, [0, 1, 2], random_state=0))
    array([2, 2, 2])
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    n_samples, n_classes = len(y), len(classes)
    if n_classes < 2:
        raise ValueError(f"classes must hold at least 2 classes, got {n_classes}.")
    rng = check_random_state(random_state)
    if strategy == "random":
        index = rng.randint(n_classes, size=n_samples)
    elif strategy == "balanced":
        index = rng.permutation(np.resize(rng.permutation(n_classes), n_samples))
    else:
        offset = 1 if strategy == "shift" else rng.randint(1, n_classes, n_samples)
        index = (_class_index(y, classes, "y") + offset) % n_classes
    return classes[index]
