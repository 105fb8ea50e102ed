"""One run: its data, its model, its numbers; and the decision map of one run."""

from dataclasses import asdict
from time import perf_counter

import numpy as np
from sklearn.base import clone

from ..classifier import WideTwoLayerNetClassifier
from ..datasets import (
    load_digits_pair,
    load_fashion_mnist_pair,
    load_mnist_pair,
    make_gaussian,
    make_shifted_gaussian,
)
from ..metrics import agreement_score
from ..perturbation_learning import PerturbationLearningClassifier
from ..theory import decision_map, direction_cosine_similarity
from ._config import SCENARIOS, SYNTHETIC_DATASETS, ExperimentConfig


def load_experiment_data(config):
    """Return the training and test data of one run.

    Parameters
    ----------
    config : ExperimentConfig
        Its ``dataset``, sizes, ``seed`` and ``data_home`` are used.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Synthetic data drawn from ``seed`` (training set first, so that it
        does not depend on ``n_test``); digits 1 vs 2 split 70/30 stratified
        by ``seed``; the MNIST pairs' own training and test sets.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import (
    ...     ExperimentConfig, load_experiment_data)
    >>> X, y, X_test, y_test = load_experiment_data(
    ...     ExperimentConfig(n_samples=10, n_features=3, n_test=4))
    >>> X.shape, X_test.shape, int(y.sum())
    ((10, 3), (4, 3), 0)
    """
    if config.dataset in SYNTHETIC_DATASETS:
        make = make_shifted_gaussian if config.dataset == "shifted-gaussian" else make_gaussian
        # One stream for both draws: the training set is the same whatever
        # n_test is, so runs that differ only in n_test share f.
        rng = np.random.RandomState(config.seed)
        X, y = make(config.n_samples, config.n_features, random_state=rng)
        return (X, y, *make(config.n_test, config.n_features, random_state=rng))
    if config.dataset == "digits":
        from sklearn.model_selection import train_test_split

        X, y = load_digits_pair(1, 2)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=config.seed
        )
        return X_train, y_train, X_test, y_test
    load = load_mnist_pair if config.dataset == "mnist" else load_fashion_mnist_pair
    return (
        *load(subset="train", data_home=config.data_home),
        *load(subset="test", data_home=config.data_home),
    )


def build_classifier(config, *, memory=None):
    """The :class:`PerturbationLearningClassifier` that ``config`` describes.

    Parameters
    ----------
    config : ExperimentConfig
        The settings.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches the fit of f (see :class:`PerturbationLearningClassifier`).

    Returns
    -------
    model : PerturbationLearningClassifier
        Unfitted; f and g are :class:`WideTwoLayerNetClassifier` with every
        training setting of the paper given explicitly.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, build_classifier
    >>> model = build_classifier(ExperimentConfig(scenario="b", lr_g=0.1))
    >>> model.base, model.standardize, model.student.solver, model.student.lr
    ('data', False, 'sgd', 0.1)
    """
    network = WideTwoLayerNetClassifier(
        config.hidden_dim,
        slope=config.slope,
        loss=config.loss,
        solver="sgd",
        lr=config.lr_f,
        max_epochs=config.epochs,
        momentum=0.9,
        batch_size=None,
        lr_scheduler="plateau",
        precision=config.precision,
        device=config.device,
    )
    epochs_g = config.epochs if config.epochs_g is None else config.epochs_g
    return PerturbationLearningClassifier(
        network,
        clone(network).set_params(lr=config.lr_g, max_epochs=epochs_g),
        epsilon=config.epsilon,
        norm=config.norm,
        steps=config.steps,
        targets=config.targets,
        base=SCENARIOS[config.scenario],
        # The paper attacks the data as they are, and g keeps the offsets it
        # learned from its targets.
        standardize=False,
        match_rates=False,
        memory=memory,
        # The perturbations are kept only to compare them with the theory.
        store_adversarial=config.cosine,
        random_state=config.seed,
    )


def _result(model, config, data, seconds):
    """The settings of ``config``, the sizes of ``data`` and the paper's numbers.

    The sizes are those of the data used: a real data set's own, or the
    arrays passed to :func:`run_experiment`.
    """
    X_train, y_train, X_test, y_test = data
    f, g = model.source_estimator_, model.estimator_
    f_test, g_test = f.predict(X_test), g.predict(X_test)
    cosine = None
    if config.cosine:
        perturbations = model.X_adv_ - X_train if config.scenario == "b" else model.X_adv_
        cosine = direction_cosine_similarity(
            X_train, y_train, perturbations, slope=config.slope, device=config.device
        )
    return {
        **asdict(config),
        "n_samples": len(X_train),
        "n_features": X_train.shape[1],
        "n_test": len(X_test),
        "f_train_accuracy": float(f.score(X_train, y_train)),
        "g_train_accuracy": float(g.score(X_train, y_train)),
        "f_test_accuracy": float((f_test == y_test).mean()),
        "g_test_accuracy": float((g_test == y_test).mean()),
        "agreement": float(agreement_score(f_test, g_test)),
        "cosine_similarity": cosine,
        "seconds": seconds,
    }


def _fit(config, data=None, memory=None, *, keep_adversarial=False):
    """Fit the model of ``config``; return it, the data and the fit's seconds."""
    data = load_experiment_data(config) if data is None else data
    model = build_classifier(config, memory=memory)
    if keep_adversarial:
        model.set_params(store_adversarial=True)
    start = perf_counter()
    model.fit(data[0], data[1])
    return model, data, perf_counter() - start


def run_experiment(config=None, data=None, *, memory=None):
    """Run perturbation learning once and measure it.

    Parameters
    ----------
    config : ExperimentConfig, default=None
        The settings; None is the paper's sG(a) configuration.
    data : tuple of (X_train, y_train, X_test, y_test), default=None
        Data to use instead of loading ``config.dataset``; the result reports
        its sizes.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches the fit of f, so that runs differing only in g's settings or
        the attack fit f once.

    Returns
    -------
    result : dict
        Every setting of ``config`` (``n_samples``, ``n_features`` and
        ``n_test`` as the data had them), then ``f_train_accuracy`` (f on D),
        ``g_train_accuracy`` (g on D with the true labels), ``f_test_accuracy``,
        ``g_test_accuracy``, ``agreement`` (of f and g on the test set),
        ``cosine_similarity`` (``mean_n |cos(r_n, q_n)|`` of theorem 3.3, or
        None unless ``config.cosine``) and ``seconds`` (wall time of the fit;
        a cached f costs only its loading).

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
    model, data, seconds = _fit(config, data, memory)
    return _result(model, config, data, seconds)


def run_decision_map(config, *, limits=(-7.0, 7.0), resolution=400):
    """Run ``config`` once and compute the decision map of its f and g.

    Parameters
    ----------
    config : ExperimentConfig
        The settings; ``scenario`` must be "a" or "b".
    limits : tuple of two floats, default=(-7.0, 7.0)
        Coordinate range of the map on both axes.
    resolution : int, default=400
        Grid points along each axis.

    Returns
    -------
    result : dict
        As :func:`run_experiment` returns it.
    map : Bunch
        :func:`~sklearn_pertlearn.theory.decision_map` of f and g, with
        ``hat_g`` of the adversarial examples g was trained on; draw it with
        :func:`~sklearn_pertlearn.plotting.plot_decision_map`.

    Examples
    --------
    >>> from sklearn_pertlearn.experiments import ExperimentConfig, run_decision_map
    >>> result, dmap = run_decision_map(
    ...     ExperimentConfig(n_samples=100, n_features=20, epochs=20), resolution=20)
    >>> dmap.agreement.shape
    (20, 20)
    """
    if config.scenario == "uniform":
        raise ValueError(
            "A decision map needs the adversarial example of every training "
            "point; use scenario 'a' or 'b', not 'uniform'."
        )
    model, data, seconds = _fit(config, keep_adversarial=True)
    result = _result(model, config, data, seconds)
    dmap = decision_map(
        data[0],
        data[1],
        model.source_estimator_,
        model.estimator_,
        X_adv=model.X_adv_,
        limits=limits,
        resolution=resolution,
        slope=config.slope,
        device=config.device,
    )
    return result, dmap
