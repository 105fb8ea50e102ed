"""Learning from adversarial perturbations with wide two-layer networks.

Scikit-learn estimators for the method of Kumano, Kera and Yamasaki, "Wide
Two-Layer Networks can Learn from Adversarial Perturbations" (NeurIPS 2024).

The estimators are loaded when first used, so that importing a light module
of the package (the command line's options, say) does not import torch.
"""

# Light: no torch, so it is imported at once.
from ._config import config_context, get_config, set_config
from ._lazy import lazy_attributes

__version__ = "0.1.0"

_WHERE = {
    "AdversarialPerturbationSampler": "transformer",
    "AdversarialPerturbationTransformer": "transformer",
    "PerturbationLearningClassifier": "perturbation_learning",
    "WideTwoLayerNetClassifier": "classifier",
}

__all__ = [*sorted(_WHERE), "__version__", "config_context", "get_config", "set_config"]

__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
