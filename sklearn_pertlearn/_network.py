"""The paper's wide two-layer network and its margin losses, in plain PyTorch.

Nothing here knows about scikit-learn. Both the network and the losses carry
their gradients in closed form: a full-batch epoch is then two matrix products
and a handful of element-wise operations, with no autograd graph to build. The
autograd path (``forward``) stays exact and available, and the tests check the
closed forms against it.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._choices import LOSSES


def leaky_relu_derivative_(preactivation, slope):
    """Write ``sigma'`` over ``preactivation`` and return it: 1 above 0, ``slope`` else.

    At exactly 0 this takes ``slope``, as PyTorch's autograd does. In place,
    because every caller is done with the pre-activations.
    """
    derivative = preactivation.gt_(0)
    if slope:
        derivative.mul_(1.0 - slope).add_(slope)
    return derivative


def signed_targets(target, dtype):
    """The paper's labels of two-class targets: -1 for index 0, +1 for index 1."""
    return (2 * target - 1).to(dtype)


def identity_gradient(target, n_outputs, dtype):
    """Gradient of the per-sample identity loss with respect to f, unweighted.

    ``-y`` for margins (``n_outputs == 1``) and ``1 / K - onehot(y)`` for K
    logits. It depends on the targets alone; the attacks step along minus it.
    """
    if n_outputs == 1:
        return -signed_targets(target, dtype)
    return 1.0 / n_outputs - F.one_hot(target, n_outputs).to(dtype)


#: Whether torch has matrix products of 16-bit operands with a float32
#: result (CUDA, from torch 2.8 on).
_MM_TO_FLOAT32 = "dtype" in torch.ops.aten.mm.overloads()


def _max_exponent(dtype):
    """The binary exponent of ``dtype``'s largest number: 16 for float16, 128 for float32."""
    return math.frexp(torch.finfo(dtype).max)[1]


class TwoLayerNetwork(nn.Module):
    """Two-layer network ``f(x) = sum_k a_k sigma(w_k . x + b_k)``.

    ``sigma`` is the leaky ReLU with slope ``slope`` (0 gives the ReLU). Only
    the first layer (``weight`` and ``bias``) is trained; the readout ``a`` is a
    buffer, so it moves with the module between devices but is never updated.

    Parameters
    ----------
    n_features : int
        Input dimension d.
    hidden_dim : int
        Width m.
    n_outputs : int, default=1
        1 for two classes (``forward`` returns margins of shape ``(n,)``), K
        for K classes (``forward`` returns logits of shape ``(n, K)``).
    slope : float, default=0.0
        Negative slope gamma of the leaky ReLU, in [0, 1).
    seed : int, default=0
        Seed of the initial weights. They are drawn on the CPU from a private
        generator, so they are a pure function of ``seed`` (and the shapes),
        whatever the device, the dtype and the global random state.
    dtype : torch.dtype, default=torch.float32
        Floating point type of the weights.

    Notes
    -----
    Initialisation as in the paper: ``w_k ~ N(0, I_d / d)``,
    ``b_k ~ N(0, 1)``, ``a_k ~ N(0, 1 / m)``.
    """

    def __init__(
        self,
        n_features,
        hidden_dim,
        n_outputs=1,
        slope=0.0,
        seed=0,
        dtype=torch.float32,
    ):
        super().__init__()
        # Drawn in float64 and then rounded, so that both precisions start
        # from the same weights.
        generator = torch.Generator().manual_seed(int(seed))
        weight, bias, readout = (
            torch.randn(*shape, generator=generator, dtype=torch.float64)
            for shape in ((hidden_dim, n_features), (hidden_dim,), (hidden_dim, n_outputs))
        )
        self.slope = float(slope)
        self.weight = nn.Parameter((weight / math.sqrt(n_features)).to(dtype))
        self.bias = nn.Parameter(bias.to(dtype))
        readout = (readout / math.sqrt(hidden_dim)).to(dtype)
        self.register_buffer("readout", readout[:, 0] if n_outputs == 1 else readout)

    @property
    def n_features(self):
        return self.weight.shape[1]

    @property
    def hidden_dim(self):
        return self.weight.shape[0]

    @property
    def n_outputs(self):
        return 1 if self.readout.dim() == 1 else self.readout.shape[1]

    def preactivation(self, X):
        """Return ``X W^T + b``, shape ``(n, m)``, in the dtype of ``X``.

        Inputs of a 16-bit type (mixed precision training) are multiplied by
        the weights rounded to that type.
        """
        weight, bias = self.weight, self.bias
        if X.dtype != weight.dtype:
            weight, bias = weight.to(X.dtype), bias.to(X.dtype)
        return torch.addmm(bias, X, weight.t())

    def output(self, preactivation):
        """Return f from the pre-activations: margins ``(n,)`` or logits ``(n, K)``.

        16-bit pre-activations are summed in the weights' dtype.
        """
        preactivation = preactivation.to(self.readout.dtype)
        return F.leaky_relu(preactivation, self.slope) @ self.readout

    def forward(self, X):
        """Return f(X): margins ``(n,)`` or logits ``(n, K)``."""
        return self.output(self.preactivation(X))

    def _preactivation_gradient(self, preactivation, grad_output):
        # dL/d(pre) = (dL/df a^T) * sigma'(pre), for margins or logits, in the
        # dtype of the pre-activations. The multiplication by sigma' is
        # autograd's own fused kernel: one pass, and the same rounding as
        # autograd.
        readout = self.readout.to(preactivation.dtype)
        grad_output = grad_output.to(preactivation.dtype)
        if grad_output.dim() == 1:
            upstream = torch.outer(grad_output, readout)
        else:
            upstream = grad_output @ readout.t()
        return torch.ops.aten.leaky_relu_backward(
            upstream, preactivation, self.slope, False
        )

    def parameter_gradients(self, X, preactivation, grad_output):
        """Closed-form gradients of a loss with respect to ``weight`` and ``bias``.

        Parameters
        ----------
        X : torch.Tensor of shape (n, d)
            The inputs of the forward pass.
        preactivation : torch.Tensor of shape (n, m)
            ``self.preactivation(X)``.
        grad_output : torch.Tensor of shape (n,) or (n, K)
            Gradient of the loss with respect to the outputs.

        Returns
        -------
        grad_weight, grad_bias : torch.Tensor
            Shapes ``(m, d)`` and ``(m,)``, in the weights' dtype.

        Notes
        -----
        With ``X`` and ``preactivation`` of a 16-bit type (mixed precision)
        the weight gradient's product runs in that type. The per-sample
        gradients carry the loss's ``1 / N`` and the readout's ``1 / sqrt(m)``
        and can fall below float16's smallest normal number (6e-5), so they
        enter the product scaled by a power of two that brings the largest
        entry of ``dL/d(pre)`` near 1, and the result is unscaled in the
        weights' dtype (exact, both ways). On CUDA the product returns
        float32 (``torch.mm(..., out_dtype=torch.float32)``); elsewhere a
        product beyond float16's range (65504), possible on large unscaled
        inputs, is computed again in the weights' dtype. bfloat16 has
        float32's range and needs neither.
        """
        dtype = self.weight.dtype
        scale = None
        if _max_exponent(X.dtype) < _max_exponent(dtype):
            peak = grad_output.abs().max() * self.readout.abs().max()
            # frexp(0) has exponent 0: no gradient, no scaling.
            scale = torch.exp2(-torch.frexp(peak).exponent.to(dtype))
            grad_output = grad_output * scale
        grad_pre = self._preactivation_gradient(preactivation, grad_output)
        if scale is not None and X.is_cuda and _MM_TO_FLOAT32:
            # cuBLAS multiplies the float16 operands and accumulates and
            # returns in float32: no float16 result that could overflow, so
            # no finiteness test, which would wait for the GPU every step.
            grad_weight = torch.mm(grad_pre.t(), X, out_dtype=torch.float32)
            return grad_weight.to(dtype).div_(scale), grad_pre.sum(dim=0, dtype=dtype).div_(scale)
        grad_weight = grad_pre.t() @ X
        if scale is None:
            return grad_weight.to(dtype), grad_pre.sum(dim=0, dtype=dtype)
        if not grad_weight.isfinite().all():
            grad_weight = grad_pre.t().to(dtype) @ X.to(dtype)
        return grad_weight.to(dtype).div_(scale), grad_pre.sum(dim=0, dtype=dtype).div_(scale)

    def margin_gradient(self, X):
        """Gradient of the margin with respect to the inputs, ``(n, d)``; two classes only.

        ``grad f(x) = (sigma'(W x + b) * a) W``: one pass over the
        pre-activations and two matrix products, with no output computed.
        """
        self._check_margins("margin_gradient")
        derivative = leaky_relu_derivative_(self.preactivation(X), self.slope)
        return derivative @ (self.readout[:, None] * self.weight)

    def _check_margins(self, method):
        if self.n_outputs != 1:
            raise ValueError(f"{method} needs a two-class network (one output).")

    def input_gradient(self, X, grad_output):
        """Closed-form gradient of a loss with respect to the inputs, ``(n, d)``.

        ``grad_output`` is the gradient of the loss with respect to the outputs
        at ``X``, shape ``(n,)`` or ``(n, K)``.
        """
        grad_pre = self._preactivation_gradient(self.preactivation(X), grad_output)
        return grad_pre @ self.weight


class MarginLoss(nn.Module):
    """The paper's losses on margins, extended to K classes.

    Targets are class indices. With two classes index 0 is the label -1 and
    index 1 the label +1, and the per-sample loss is ``l(-y f(x))`` with
    ``l(s) = s`` (``"identity"``) or ``l(s) = log(1 + e^s)`` (``"logistic"``).
    With K classes ``"logistic"`` is the softmax cross entropy and
    ``"identity"`` is ``-(f_y(x) - mean_k f_k(x))``.

    The reduction is ``sum_n s_n c_n l_n / sum_n s_n``: the per-sample losses
    ``l_n`` times the weight ``c_n`` of their class and their sample weight
    ``s_n``, over the total sample weight (the number of samples when there
    are no sample weights). A sample of integer weight k then counts exactly
    as k copies of it. Both weights are given per sample, so that they travel
    with their rows through mini-batches.

    Parameters
    ----------
    loss : {"identity", "logistic"}, default="identity"
    """

    def __init__(self, loss="identity"):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
        self.loss = loss

    @staticmethod
    def _weights(target, sample_weight, class_weight):
        """Per-sample weights (None for all ones) and the normaliser of the sum."""
        if sample_weight is None:
            total = target.shape[0]
        else:
            # A batch whose weights are all zero contributes nothing, not 0 / 0.
            total = sample_weight.sum().clamp_min(torch.finfo(sample_weight.dtype).tiny)
        weight = sample_weight
        if class_weight is not None:
            weight = class_weight if weight is None else class_weight * weight
        return weight, total

    def _per_sample(self, output, target):
        """The unweighted per-sample losses and their gradients with respect to ``output``."""
        if output.dim() == 1:
            sign = signed_targets(target, output.dtype)
            signed_margin = -sign * output
            if self.loss == "identity":
                return signed_margin, -sign
            return F.softplus(signed_margin), -sign * torch.sigmoid(signed_margin)
        if self.loss == "identity":
            chosen = output.gather(1, target[:, None])[:, 0]
            return output.mean(dim=1) - chosen, identity_gradient(
                target, output.shape[1], output.dtype
            )
        log_proba = F.log_softmax(output, dim=1)
        onehot = F.one_hot(target, output.shape[1]).to(output.dtype)
        return -(log_proba * onehot).sum(dim=1), log_proba.exp() - onehot

    def forward(self, output, target, sample_weight=None, class_weight=None):
        """Return the weighted mean loss; differentiable through autograd."""
        return self.loss_and_grad(output, target, sample_weight, class_weight)[0]

    @property
    def is_linear(self):
        """Whether the loss is linear in f, so that its gradient ignores f."""
        return self.loss == "identity"

    def output_gradient(self, target, n_outputs, dtype, sample_weight=None, class_weight=None):
        """Return the gradient of a linear loss with respect to f, without f.

        Only for ``is_linear`` losses, whose gradient depends on the targets
        (and weights) alone; ``n_outputs`` is 1 for margins and K for logits.
        """
        if not self.is_linear:
            raise ValueError(f"The {self.loss!r} loss needs f for its gradient.")
        grad = identity_gradient(target, n_outputs, dtype)
        return self._weigh_gradient(grad, *self._weights(target, sample_weight, class_weight))

    @staticmethod
    def _weigh_gradient(grad, weight, total):
        if weight is not None:
            grad = grad * (weight if grad.dim() == 1 else weight[:, None])
        return grad / total

    def loss_and_grad(self, output, target, sample_weight=None, class_weight=None):
        """Return the weighted mean loss and its gradient with respect to ``output``.

        The gradient is computed in closed form, without autograd.
        """
        per_sample, grad = self._per_sample(output, target)
        weight, total = self._weights(target, sample_weight, class_weight)
        if weight is not None:
            per_sample = per_sample * weight
        return per_sample.sum() / total, self._weigh_gradient(grad, weight, total)
