"""Learning from adversarial perturbations with wide two-layer networks."""

from .classifier import WideTwoLayerNetClassifier

__version__ = "0.1.0"

__all__ = ["WideTwoLayerNetClassifier", "__version__"]
