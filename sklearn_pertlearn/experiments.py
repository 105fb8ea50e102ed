"""The paper's experiments: one run of perturbation learning, end to end.

A run draws (or loads) a training set D and a test set from the same
distribution, fits a :class:`PerturbationLearningClassifier` (f on D, g on the
adversarial examples of f alone) and reports what the paper reports: f's
accuracy on D, g's accuracy on D with the true labels, both accuracies on the
test set, and the agreement of f and g there.
"""

from dataclasses import asdict, dataclass, fields
from time import perf_counter

from sklearn.base import clone

from .classifier import WideTwoLayerNetClassifier
from .datasets import (
    load_digits_pair,
    load_fashion_mnist_pair,
    load_mnist_pair,
    make_gaussian,
    make_shifted_gaussian,
)
from .metrics import agreement_score
from .perturbation_learning import PerturbationLearningClassifier

DATASETS = ("shifted-gaussian", "gaussian", "digits", "mnist", "fashion-mnist")
SCENARIOS = {"a": "none", "b": "data", "uniform": "uniform"}


@dataclass
class ExperimentConfig:
    """Settings of one run; the defaults are the paper's sG(a) configuration.

    Parameters
    ----------
    dataset : {"shifted-gaussian", "gaussian", "digits", "mnist", \
            "fashion-mnist"}, default="shifted-gaussian"
        Synthetic data are drawn afresh for training and test; ``"digits"``
        splits scikit-learn's digits 1 vs 2; the MNIST pairs use their own
        train and test sets.
    scenario : {"a", "b", "uniform"}, default="a"
        a: x_adv = r; b: x_adv = x + r; uniform: perturbations of uniform noise.
    n_samples : int, default=1000
        Training samples N of synthetic data.
    n_features : int, default=100
        Input dimension d of synthetic data.
    n_test : int, default=1000
        Test samples of synthetic data.
    hidden_dim : int, default=100
        Width m of f and g.
    epsilon : float, default=0.01
        Perturbation radius.
    loss : {"identity", "logistic"}, default="identity"
    slope : float, default=0.0
        Leaky ReLU slope gamma.
    lr_f, lr_g : float, default=1.0
        Learning rates of f and g.
    epochs : int, default=1000
        Full-batch epochs of f and of g.
    targets : {"balanced", "random", "random_other", "shift"}, default="balanced"
    norm : {"l2", "linf"}, default="l2"
    steps : int, default=1
        Attack steps; more than 1 is PGD.
    device : str, default="cpu"
    seed : int, default=0
        Seeds the data, the networks, the targets and the noise.
    """

    dataset: str = "shifted-gaussian"
    scenario: str = "a"
    n_samples: int = 1000
    n_features: int = 100
    n_test: int = 1000
    hidden_dim: int = 100
    epsilon: float = 0.01
    loss: str = "identity"
    slope: float = 0.0
    lr_f: float = 1.0
    lr_g: float = 1.0
    epochs: int = 1000
    targets: str = "balanced"
    norm: str = "l2"
    steps: int = 1
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(
                f"dataset must be one of {DATASETS}, got {self.dataset!r}."
            )
        if self.scenario not in SCENARIOS:
            raise ValueError(
                f"scenario must be one of {tuple(SCENARIOS)}, got {self.scenario!r}."
            )
        for name in ("n_samples", "n_features", "n_test", "hidden_dim", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.epochs < 0:
            raise ValueError(f"epochs must be at least 0, got {self.epochs}.")

    @classmethod
    def field_names(cls):
        return [field.name for field in fields(cls)]


def load_experiment_data(config):
    """Return ``(X_train, y_train, X_test, y_test)`` for ``config``."""
    if config.dataset in ("shifted-gaussian", "gaussian"):
        make = make_shifted_gaussian if config.dataset == "shifted-gaussian" else make_gaussian
        X, y = make(config.n_samples + config.n_test, config.n_features,
                    random_state=config.seed)
        n = config.n_samples
        return X[:n], y[:n], X[n:], y[n:]
    if config.dataset == "digits":
        from sklearn.model_selection import train_test_split

        X, y = load_digits_pair(1, 2)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=config.seed
        )
        return X_train, y_train, X_test, y_test
    load = load_mnist_pair if config.dataset == "mnist" else load_fashion_mnist_pair
    return (*load(subset="train"), *load(subset="test"))


def build_classifier(config):
    """The :class:`PerturbationLearningClassifier` that ``config`` describes."""
    network = WideTwoLayerNetClassifier(
        config.hidden_dim,
        slope=config.slope,
        loss=config.loss,
        lr=config.lr_f,
        max_epochs=config.epochs,
        device=config.device,
    )
    return PerturbationLearningClassifier(
        network,
        clone(network).set_params(lr=config.lr_g),
        epsilon=config.epsilon,
        norm=config.norm,
        steps=config.steps,
        targets=config.targets,
        base=SCENARIOS[config.scenario],
        random_state=config.seed,
    )


def run_experiment(config=None, data=None):
    """Run perturbation learning once and measure it.

    Parameters
    ----------
    config : ExperimentConfig, default=None
        The settings; None is the paper's sG(a) configuration.
    data : tuple of (X_train, y_train, X_test, y_test), default=None
        Data to use instead of loading ``config.dataset``.

    Returns
    -------
    result : dict
        Every setting of ``config``, then ``f_train_accuracy`` (f on D),
        ``g_train_accuracy`` (g on D with the true labels), ``f_test_accuracy``,
        ``g_test_accuracy``, ``agreement`` (of f and g on the test set) and
        ``seconds`` (wall time of the fit).

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, run_experiment
    >>> result = run_experiment(ExperimentConfig(n_samples=200, epochs=50))
    >>> sorted(k for k in result if "accuracy" in k)
    ['f_test_accuracy', 'f_train_accuracy', 'g_test_accuracy', 'g_train_accuracy']
    >>> result["agreement"] > 0.9
    True
    """
    config = ExperimentConfig() if config is None else config
    X_train, y_train, X_test, y_test = (
        load_experiment_data(config) if data is None else data
    )
    model = build_classifier(config)
    start = perf_counter()
    model.fit(X_train, y_train)
    seconds = perf_counter() - start
    f, g = model.source_estimator_, model.estimator_
    f_test, g_test = f.predict(X_test), g.predict(X_test)
    return {
        **asdict(config),
        "f_train_accuracy": float(f.score(X_train, y_train)),
        "g_train_accuracy": float(g.score(X_train, y_train)),
        "f_test_accuracy": float((f_test == y_test).mean()),
        "g_test_accuracy": float((g_test == y_test).mean()),
        "agreement": float(agreement_score(f_test, g_test)),
        "seconds": seconds,
    }
