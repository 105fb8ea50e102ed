"""The names that the estimators, the attacks and the command line accept.

They live here, apart from the torch code that acts on them, so that the
command line can offer them as choices without importing torch.
"""

#: Losses of :class:`~sklearn_pertlearn.WideTwoLayerNetClassifier`.
LOSSES = ("identity", "logistic")
#: Norms of the attacks.
NORMS = ("l2", "linf")
#: Strategies that draw the target labels of the attacks.
TARGET_STRATEGIES = ("balanced", "random", "random_other", "shift")
#: What is perturbed: nothing (x_adv = r), the data, or uniform noise.
BASES = ("none", "data", "uniform")
#: Numeric precisions of training, in PyTorch Lightning's names.
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
