"""The torch optimizers of the classifier's closed-form training step.

Two workarounds of torch's, kept apart from the skorch code that uses them:
optimizer classes that do not import the compiler stack ``torch._dynamo``
(about a second in every fresh process and joblib worker), and a fast path
that applies plain SGD with torch's own arithmetic instead of paying
``optimizer.step()``'s bookkeeping once per epoch.
"""

import torch
from torch.optim import Optimizer
from torch.optim import optimizer as _optimizer_module

_SGD_SETTINGS = ("lr", "momentum", "dampening", "weight_decay")


class SGD(torch.optim.SGD):
    """:class:`torch.optim.SGD` whose constructor does not import ``torch._dynamo``.

    torch wraps ``Optimizer.add_param_group`` in ``torch._disable_dynamo``,
    which imports the compiler stack ``torch._dynamo`` (about a second, in
    every fresh process and joblib worker) the first time it runs, which is in
    the optimizer's constructor. The wrapper only matters under
    ``torch.compile``, which the training step does not use, so this class
    adds its parameter groups with the unwrapped method.
    """

    add_param_group = getattr(
        Optimizer.add_param_group, "__wrapped__", Optimizer.add_param_group
    )


class Adam(torch.optim.Adam):
    """:class:`torch.optim.Adam` that does not import ``torch._dynamo`` either.

    Its constructor is :class:`SGD`'s. Its ``step`` is torch's without the
    wrapper that switches gradients off (the closed-form training step runs
    under ``torch.no_grad()`` already) and marks a graph break for
    ``torch.compile``, for which it imports the compiler stack.
    """

    add_param_group = SGD.add_param_group
    step = getattr(torch.optim.Adam.step, "__wrapped__", torch.optim.Adam.step)


@torch.no_grad()
def optimizer_step(optimizer, params, grads):
    """Step ``optimizer`` with the given gradients of ``params``.

    Plain :class:`torch.optim.SGD` or :class:`SGD` (one parameter group
    holding exactly ``params``, numbers as settings, neither ``fused`` nor
    ``differentiable``) is applied here with torch's own arithmetic and state (the
    ``momentum_buffer`` of every parameter), weight decay, dampening, Nesterov
    and ``maximize`` included: ``optimizer.step()`` costs about 0.2 ms per call
    in bookkeeping, a sixth of a full-batch epoch at the paper's size. Every
    other optimizer, and any optimizer with step hooks (its own or torch's
    global ones, which only ``optimizer.step()`` runs), receives the gradients
    in ``param.grad`` and steps itself.
    """
    group = optimizer.param_groups[0]
    plain_sgd = (
        type(optimizer) in (torch.optim.SGD, SGD)
        and not _has_step_hooks(optimizer)
        and len(optimizer.param_groups) == 1
        and len(group["params"]) == len(params)
        and all(p is q for p, q in zip(group["params"], params))
        and not (group.get("fused") or group.get("differentiable"))
        and not any(isinstance(group[key], torch.Tensor) for key in _SGD_SETTINGS)
    )
    if not plain_sgd:
        for param, grad in zip(params, grads):
            param.grad = grad
        optimizer.step()
        return
    lr, momentum, dampening, weight_decay = (group[key] for key in _SGD_SETTINGS)
    for param, grad in zip(params, grads):
        # The steps of torch.optim.sgd._single_tensor_sgd, in its order.
        if group["maximize"]:
            grad = -grad
        if weight_decay:
            grad = grad.add(param, alpha=weight_decay)
        if momentum:
            state = optimizer.state[param]
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.clone()
            else:
                buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buffer, alpha=momentum) if group["nesterov"] else buffer
        param.add_(grad, alpha=-lr)


def _has_step_hooks(optimizer):
    """Whether ``optimizer.step()`` would run a step pre- or post-hook."""
    return bool(
        optimizer._optimizer_step_pre_hooks
        or optimizer._optimizer_step_post_hooks
        or _optimizer_module._global_optimizer_pre_hooks
        or _optimizer_module._global_optimizer_post_hooks
    )
