"""Learning from adversarial perturbations with wide two-layer networks.

Scikit-learn estimators for the method of Kumano, Kera and Yamasaki, "Wide
Two-Layer Networks can Learn from Adversarial Perturbations" (NeurIPS 2024).

The estimators are loaded when first used, so that importing a light module
of the package (the command line's options, say) does not import torch.
"""

import importlib

__version__ = "0.1.0"

_WHERE = {
    "AdversarialPerturbationSampler": "transformer",
    "AdversarialPerturbationTransformer": "transformer",
    "PerturbationLearningClassifier": "perturbation_learning",
    "WideTwoLayerNetClassifier": "classifier",
}

__all__ = [*sorted(_WHERE), "__version__"]


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
