"""Numeric precision of training: the 16-bit type of each setting and where it runs.

The settings carry PyTorch Lightning's names. ``"32-true"`` trains in the
weights' own dtype. The two mixed settings run the epoch's matrix products in
a 16-bit type, bfloat16 or float16, while the master weights, the momentum
buffers, the loss and the learning-rate schedule stay in the weights' dtype;
the attack, the predictions and the theory never see the 16-bit type. The
authors trained with Lightning's ``precision=16``, which is ``"16-mixed"``.
"""

import warnings
from contextlib import contextmanager
from functools import cache

import torch

#: The 16-bit type of the products of each mixed setting.
PRODUCT_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}

# CPU features (in torch.cpu.get_capabilities' and /proc/cpuinfo's names)
# with which torch's bfloat16 matrix products run faster than float32's.
_CPU_BF16_FEATURES = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


@cache
def cpu_bf16_features():
    """The names of this CPU's bfloat16 instructions that torch uses; empty if none.

    ``"avx512_bf16"`` and ``"amx_bf16"`` on x86, ``"bf16"`` and ``"sve_bf16"``
    on ARM.
    """
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is not None:
        capabilities = get_capabilities()
        return tuple(name for name in _CPU_BF16_FEATURES if capabilities.get(name))
    # Older torch has no get_capabilities; Linux lists the flags.
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = set(cpuinfo.read().split())
    except OSError:
        return ()
    return tuple(name for name in _CPU_BF16_FEATURES if name in flags)


def product_dtype(precision, device, owner):
    """The 16-bit dtype of the training products, or None for ``"32-true"``.

    Parameters
    ----------
    precision : {"32-true", "bf16-mixed", "16-mixed"}
    device : torch.device
        The device that trains.
    owner : str
        Name of the estimator, for the messages.

    Raises
    ------
    ValueError
        For ``"16-mixed"`` on a CPU, where torch has no fast float16 matrix
        product, and for ``"bf16-mixed"`` on a CUDA device older than Ampere
        (compute capability 8.0), which has no bfloat16 tensor cores.

    Warns
    -----
    UserWarning
        For ``"bf16-mixed"`` on a CPU without bfloat16 instructions, where
        torch emulates the type: the fit is right but no faster than in float32.
    """
    if precision == "32-true":
        return None
    if device.type == "cpu":
        if precision == "16-mixed":
            raise ValueError(
                f"{owner}(precision='16-mixed') needs a CUDA device: torch has no "
                "fast float16 matrix product on CPUs (7 to 10 GFLOP/s measured, "
                "against 85 in float32), so it would train about ten times slower "
                "than precision='32-true'. On a CPU use precision='bf16-mixed': "
                "the same 16-bit products, with float32's range."
            )
        if not cpu_bf16_features():
            warnings.warn(
                f"{owner}(precision='bf16-mixed'): this CPU has no bfloat16 "
                "instructions (AVX512-BF16, AMX-BF16 or ARM BF16), so torch emulates "
                "the 16-bit products and the fit is no faster than with "
                "precision='32-true', only less precise.",
                UserWarning,
            )
    elif precision == "bf16-mixed" and torch.version.hip is None:
        capability = torch.cuda.get_device_capability(device)
        if capability < (8, 0):
            raise ValueError(
                f"{owner}(precision='bf16-mixed') needs a CUDA device of compute "
                f"capability 8.0 (Ampere) or newer for bfloat16; {device} has "
                f"{capability[0]}.{capability[1]}. Use precision='16-mixed' there."
            )
    return PRODUCT_DTYPES[precision]


def to_product_dtype(X, dtype, owner, precision):
    """Round the training inputs ``X`` to the products' ``dtype``, once per fit.

    Raises a ValueError when an entry is beyond the type's range (float16
    ends at 65504) instead of training on infinities.
    """
    products = X.to(dtype)
    if not torch.isfinite(products).all():
        raise ValueError(
            f"{owner}(precision={precision!r}) cannot hold X in {dtype}: its "
            f"largest absolute value {float(X.abs().max()):.4g} is beyond the "
            f"type's largest number {torch.finfo(dtype).max:.6g}. Scale the inputs "
            "(for example with sklearn.preprocessing.StandardScaler), or use "
            "precision='bf16-mixed' or '32-true'."
        )
    return products


# torch's global switches that let CUDA round float32 products to TF32, and
# reduce or accumulate float16 / bfloat16 products in reduced precision;
# cuBLAS splits the weight gradient's reduction over all N rows, where that
# precision is lost. (allow_fp16_accumulation came with torch 2.7.)
_CUDA_MATMUL_FLAGS = tuple(
    flag
    for flag in (
        "allow_tf32",
        "allow_fp16_reduced_precision_reduction",
        "allow_bf16_reduced_precision_reduction",
        "allow_fp16_accumulation",
    )
    if hasattr(torch.backends.cuda.matmul, flag)
)


@contextmanager
def own_products(device_type):
    """Run a block with the library's own numerics, whatever the caller set.

    A caller's ``torch.autocast`` is switched off, and on CUDA the products
    are exact to their types: float32 without TF32, 16-bit products reduced
    in float32. The global settings come back when the block ends.

    Parameters
    ----------
    device_type : str
        ``"cpu"`` or ``"cuda"``: the device of the block's tensors.

    Examples
    --------
    >>> import torch
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     with own_products("cpu"):
    ...         torch.is_autocast_enabled("cpu")
    False
    """
    with torch.autocast(device_type, enabled=False):
        if device_type != "cuda":
            yield
            return
        matmul = torch.backends.cuda.matmul
        saved = {flag: getattr(matmul, flag) for flag in _CUDA_MATMUL_FLAGS}
        try:
            for flag in _CUDA_MATMUL_FLAGS:
                setattr(matmul, flag, False)
            yield
        finally:
            for flag, value in saved.items():
                setattr(matmul, flag, value)
