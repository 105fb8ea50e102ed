"""Learning from adversarial perturbations with wide two-layer networks.

Scikit-learn estimators for the method of Kumano, Kera and Yamasaki, "Wide
Two-Layer Networks can Learn from Adversarial Perturbations" (NeurIPS 2024).
"""

from ._config import config_context, get_config, set_config
from .classifier import WideTwoLayerNetClassifier
from .perturbation_learning import PerturbationLearningClassifier
from .transformer import AdversarialPerturbationSampler, AdversarialPerturbationTransformer

__version__ = "0.1.0"

__all__ = [
    "AdversarialPerturbationSampler",
    "AdversarialPerturbationTransformer",
    "PerturbationLearningClassifier",
    "WideTwoLayerNetClassifier",
    "__version__",
    "config_context",
    "get_config",
    "set_config",
]
