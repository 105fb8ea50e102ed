"""Input validation shared by the estimators and the functions."""

import numpy as np
import torch
from sklearn.utils import assert_all_finite, check_array

from ._constraints import SLOPE as SLOPE_CONSTRAINT  # noqa: F401  (theory.py's name)

#: The floating point types that inputs are kept in; anything else becomes float64.
FLOAT_DTYPES = (np.float32, np.float64)
#: Exclusive upper bound of the seeds drawn from a ``random_state``.
SEED_BOUND = np.iinfo(np.int32).max
#: Parameter constraint of a torch device.
DEVICE_CONSTRAINT = [str, torch.device]


def check_float_array(X, input_name="X"):
    """``check_array(X, dtype=FLOAT_DTYPES, order="C")``, fast on ready arrays.

    A writeable, C-contiguous, non-empty 2-D float32 or float64 ndarray is
    already what ``check_array`` returns; it is only checked for NaN and
    infinity. ``check_array``'s data-frame detection alone costs about 0.2 ms
    a call, a tenth of attacking a thousand points.
    """
    if (
        isinstance(X, np.ndarray)
        and X.dtype in FLOAT_DTYPES
        and X.ndim == 2
        and X.flags.c_contiguous
        and X.flags.writeable
        and X.size
    ):
        # A finite sum proves every entry finite; otherwise scikit-learn
        # looks closer and words the error.
        if not torch.from_numpy(X).sum().isfinite():
            assert_all_finite(X, input_name=input_name)
        return X
    return check_array(X, dtype=FLOAT_DTYPES, order="C", input_name=input_name)


def check_n_features(X, n_features, *, name, reference):
    """Raise a ValueError unless ``X`` has ``n_features`` columns.

    The message reads ``"{name} has 3 features, but {reference} 4 features."``,
    e.g. with ``reference="the module expects"``.
    """
    if X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but {reference} {n_features} features."
        )


def check_within_dtype(X, dtype, owner):
    """Raise a ValueError when an entry of ``X`` is beyond the range of the torch ``dtype``.

    float64 inputs of a float32 network are rounded to float32, where values
    beyond 3.4e38 become infinite; the message names that cause rather than
    a diverged fit.
    """
    limit = torch.finfo(dtype).max
    if X.dtype.itemsize <= torch.finfo(dtype).bits // 8:
        return
    largest = float(max(X.max(), -X.min())) if X.size else 0.0
    if largest > limit:
        raise ValueError(
            f"{owner} cannot hold X in {dtype}: its largest absolute value "
            f"{largest:.4g} is beyond the type's largest number {limit:.4g}. Scale the "
            "inputs (for example with sklearn.preprocessing.StandardScaler) or use "
            "dtype='float64'."
        )


def to_tensor(array, dtype, device):
    """Return the ndarray ``array`` as a tensor of ``dtype`` on ``device``.

    A writeable array is shared where dtype and device allow; a read-only one
    (a memory map, joblib's shared inputs, the values of a pandas frame) is
    copied, since torch can only wrap it with a warning.
    """
    tensor = torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)
    return tensor.to(device=device, dtype=dtype)


_DEVICE_TYPES = ("cpu", "cuda")


def check_device(device):
    """Return ``device`` as a :class:`torch.device` that exists on this machine.

    The estimators run on the CPU and on CUDA devices. Raises a ValueError
    that names the value, instead of torch's own error, for an unknown device
    name, another device type (``"mps"``, ``"xla"``, ``"meta"``, ...) or a
    CUDA device that is not there.
    """
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must name a torch device such as 'cpu', 'cuda' or 'cuda:0'; "
            f"got {device!r}."
        ) from exc
    if device.type not in _DEVICE_TYPES:
        raise ValueError(
            f"device={str(device)!r} is not supported: the estimators run on "
            "'cpu', 'cuda' or 'cuda:N'."
        )
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
