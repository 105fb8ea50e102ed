"""Command line: ``python -m sklearn_pertlearn`` (or ``pertlearn``).

``run`` trains f, attacks it, trains g on the adversarial examples alone and
prints what the paper reports. Bad options print one line on stderr and exit
with status 2.
"""

import argparse
import json
import sys

from .experiments import DATASETS, SCENARIOS, ExperimentConfig, run_experiment

_DEFAULTS = ExperimentConfig()

_ROWS = (
    ("f_train_accuracy", "accuracy of f on D"),
    ("g_train_accuracy", "accuracy of g on D (true labels)"),
    ("f_test_accuracy", "accuracy of f on test data"),
    ("g_test_accuracy", "accuracy of g on test data"),
    ("agreement", "agreement of f and g on test data"),
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports an error in one line (not usage plus message)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(kind):
    def parse(text):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _add_run_parser(subparsers):
    run = subparsers.add_parser(
        "run",
        help="one perturbation-learning experiment (default: the paper's sG(a))",
        description="Train f on clean data, attack it with target labels, train g "
        "on the adversarial examples only, and report accuracies and agreement.",
    )
    option = run.add_argument
    option("--dataset", choices=DATASETS, default=_DEFAULTS.dataset)
    option("--scenario", choices=tuple(SCENARIOS), default=_DEFAULTS.scenario,
           help="a: x_adv = r; b: x_adv = x + r; uniform: perturbed uniform noise")
    option("--n-samples", type=_positive_int, default=_DEFAULTS.n_samples,
           help="training samples of synthetic data")
    option("--n-features", type=_positive_int, default=_DEFAULTS.n_features,
           help="input dimension of synthetic data")
    option("--n-test", type=_positive_int, default=_DEFAULTS.n_test,
           help="test samples of synthetic data")
    option("--width", dest="hidden_dim", type=_positive_int, default=_DEFAULTS.hidden_dim)
    option("--epsilon", type=_non_negative(float), default=_DEFAULTS.epsilon)
    option("--loss", choices=("identity", "logistic"), default=_DEFAULTS.loss)
    option("--slope", type=float, default=_DEFAULTS.slope)
    option("--lr-f", type=float, default=_DEFAULTS.lr_f)
    option("--lr-g", type=float, default=_DEFAULTS.lr_g)
    option("--epochs", type=_non_negative(int), default=_DEFAULTS.epochs)
    option("--targets", choices=("balanced", "random", "random_other", "shift"),
           default=_DEFAULTS.targets)
    option("--norm", choices=("l2", "linf"), default=_DEFAULTS.norm)
    option("--steps", type=_positive_int, default=_DEFAULTS.steps)
    option("--device", default=_DEFAULTS.device)
    option("--seed", type=_non_negative(int), default=_DEFAULTS.seed)
    option("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=_run)


def _run(args):
    settings = {
        name: getattr(args, name) for name in ExperimentConfig.field_names()
    }
    result = run_experiment(ExperimentConfig(**settings))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['dataset']}, scenario {result['scenario']}: width {result['hidden_dim']}, "
        f"epsilon {result['epsilon']:g}, {result['loss']} loss, {result['targets']} "
        f"targets, seed {result['seed']}"
    )
    for key, label in _ROWS:
        print(f"  {label:<36}{result[key]:>7.3f}")
    print(f"  {'fit time (s)':<36}{result['seconds']:>7.1f}")


def build_parser():
    """The argument parser of the command line."""
    parser = _Parser(
        prog="pertlearn",
        description="Learning from adversarial perturbations with wide two-layer "
        "networks.",
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )
    _add_run_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of ``pertlearn`` and ``python -m sklearn_pertlearn``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, ConnectionError) as exc:
        # One line, as for bad options: the library's errors say what was
        # wrong with which value.
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
