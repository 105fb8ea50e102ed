"""A caller's autocast does not reach the library's numerics.

Lightning, accelerate and users wrap code in ``torch.autocast``; the
library's training, predictions, attacks and theory run with it switched
off, so that their results are the same inside such a block as outside.
"""

import numpy as np
import torch

from sklearn_pertlearn import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.perturbation import targeted_perturbation


def _fit_and_attack():
    X, y = make_shifted_gaussian(200, 20, random_state=0)
    clf = WideTwoLayerNetClassifier(64, solver="sgd", max_epochs=20, random_state=0).fit(X, y)
    target = (np.arange(len(X)) % 2).astype(np.int64)
    return (
        clf.decision_function(X),
        clf.predict_proba(X),
        targeted_perturbation(clf.module_, X, target, epsilon=0.5, steps=3),
    )


def test_fits_predictions_and_attacks_ignore_a_callers_autocast():
    # Under a bfloat16 autocast the convergence check once raised "Got
    # unsupported ScalarType BFloat16"; now every result is bit for bit the
    # one outside it.
    outside = _fit_and_attack()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = _fit_and_attack()
    for got, want in zip(inside, outside):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_cuda_products_are_exact_within_the_library_and_restored_after():
    # The switches are torch's globals, settable on a CPU build too: within
    # the library's CUDA blocks TF32 and reduced-precision reductions are
    # off, and the caller's settings come back.
    from sklearn_pertlearn._precision import _CUDA_MATMUL_FLAGS, own_products

    matmul = torch.backends.cuda.matmul
    assert "allow_tf32" in _CUDA_MATMUL_FLAGS
    saved = {flag: getattr(matmul, flag) for flag in _CUDA_MATMUL_FLAGS}
    try:
        for flag in _CUDA_MATMUL_FLAGS:
            setattr(matmul, flag, True)
        with own_products("cuda"):
            assert not any(getattr(matmul, flag) for flag in _CUDA_MATMUL_FLAGS)
        assert all(getattr(matmul, flag) for flag in _CUDA_MATMUL_FLAGS)
        with own_products("cpu"):
            assert all(getattr(matmul, flag) for flag in _CUDA_MATMUL_FLAGS)
    finally:
        for flag, value in saved.items():
            setattr(matmul, flag, value)
