"""Learning from adversarial perturbations with wide two-layer networks."""

__version__ = "0.1.0"
