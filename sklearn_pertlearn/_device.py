"""Validation of the ``device`` parameter shared by estimators and functions."""

import torch


def check_device(device):
    """Return ``device`` as a :class:`torch.device` that exists on this machine.

    Raises a ValueError that names the value, instead of torch's own error, for
    an unknown device name or a CUDA device that is not there.
    """
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must name a torch device such as 'cpu', 'cuda' or 'cuda:0'; "
            f"got {device!r}."
        ) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={str(device)!r} was requested but CUDA is not available "
                "on this machine; use device='cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are present."
            )
    return device
