"""Command line: ``python -m sklearn_pertlearn`` (or ``pertlearn``).

``run`` trains f, attacks it, trains g on the adversarial examples alone and
prints what the paper reports. ``sweep`` varies settings of one of the
authors' presets and ``reproduce`` makes one of the paper's figures; both
write a CSV file of results (finished runs in it are skipped, so an
interrupted command resumes) and a PNG figure, or without matplotlib the CSV
file alone. Bad options print one line on stderr and exit with status 2.

The choices come from the library's light modules; torch, the estimators
and matplotlib are imported by the command that uses them, and the presets
(whose configurations scikit-learn validates) when a preset or figure is
named, so that ``--help`` and a mistyped option answer at once.
"""

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from ._choices import LOSSES, NORMS, PRECISIONS, TARGET_STRATEGIES
from .experiments._config import (
    _SYNTHETIC_SIZES,
    DATASETS,
    SCENARIOS,
    SELECTIONS,
    SWEEPABLE,
    ExperimentConfig,
    parse_setting,
)

# The defaults of the settings, without validating a configuration.
_DEFAULTS = {
    **{item.name: item.default for item in fields(ExperimentConfig)},
    **_SYNTHETIC_SIZES,
}

_ROWS = (
    ("f_train_accuracy", "accuracy of f on D"),
    ("g_train_accuracy", "accuracy of g on D (true labels)"),
    ("f_test_accuracy", "accuracy of f on test data"),
    ("g_test_accuracy", "accuracy of g on test data"),
    ("agreement", "agreement of f and g on test data"),
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the default is None.

    A None default (or the empty list of a repeatable option) means "decided
    later" or "nothing", and the help of such an option says what happens.
    """

    def _get_help_string(self, action):
        if action.default is None or action.default == []:
            return action.help
        return super()._get_help_string(action)


class _Catalogue:
    """The names of the presets or the figures, looked up when first needed.

    argparse asks for them only to check a value or to show a command's
    help, so that ``pertlearn --help`` and ``run`` never build the catalogue.
    """

    def __init__(self, attribute):
        self.attribute = attribute

    def _names(self):
        from .experiments import _presets

        return tuple(getattr(_presets, self.attribute))

    def __iter__(self):
        return iter(self._names())

    def __contains__(self, name):
        return name in self._names()


class _Parser(argparse.ArgumentParser):
    """argparse that reports an error in one line (not usage plus message)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=_HelpFormatter, **kwargs)

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


def _add_data_home(parser):
    parser.add_argument(
        "--data-home", metavar="FOLDER",
        help="cache folder of the MNIST and Fashion-MNIST downloads (default: "
        "scikit-learn's, ~/scikit_learn_data, or $SCIKIT_LEARN_DATA); a folder "
        "that holds them lets a machine without network use them",
    )


def _add_run_parser(subparsers):
    run = subparsers.add_parser(
        "run",
        help="one perturbation-learning experiment (default: the paper's sG(a))",
        description="Train f on clean data, attack it with target labels, train g "
        "on the adversarial examples only, and report accuracies and agreement.",
    )
    option = run.add_argument
    option("--dataset", choices=DATASETS, default=_DEFAULTS["dataset"],
           help="data set: synthetic (drawn afresh, any size) or real (its own "
           "size; MNIST and Fashion-MNIST are downloaded from OpenML once)")
    option("--scenario", choices=tuple(SCENARIOS), default=_DEFAULTS["scenario"],
           help="a: x_adv = r; b: x_adv = x + r; uniform: perturbed uniform noise")
    for name, what in (
        ("n_samples", "training samples N"),
        ("n_features", "input dimension d"),
        ("n_test", "test samples"),
    ):
        option(f"--{name.replace('_', '-')}", dest=name, type=_positive_int,
               help=f"{what} of synthetic data (default: {_DEFAULTS[name]}); "
               "real data sets have their own and refuse it")
    option("--width", dest="hidden_dim", type=_positive_int,
           default=_DEFAULTS["hidden_dim"], help="width m of f and g")
    option("--epsilon", type=_non_negative(float), default=_DEFAULTS["epsilon"],
           help="perturbation radius")
    option("--loss", choices=LOSSES, default=_DEFAULTS["loss"],
           help="training loss of f and g")
    option("--slope", type=float, default=_DEFAULTS["slope"],
           help="slope gamma of the leaky ReLU, in [0, 1)")
    option("--lr-f", type=float, default=_DEFAULTS["lr_f"], help="learning rate of f")
    option("--lr-g", type=float, default=_DEFAULTS["lr_g"], help="learning rate of g")
    option("--epochs", type=_non_negative(int), default=_DEFAULTS["epochs"],
           help="full-batch epochs of f and of g")
    option("--targets", choices=TARGET_STRATEGIES, default=_DEFAULTS["targets"],
           help="how the target labels of the attack are drawn")
    option("--norm", choices=NORMS, default=_DEFAULTS["norm"], help="norm of the attack")
    option("--steps", type=_positive_int, default=_DEFAULTS["steps"],
           help="attack steps (more than 1 is PGD)")
    _add_precision(run)
    _add_device(run, _DEFAULTS["device"])
    option("--seed", type=_non_negative(int), default=_DEFAULTS["seed"],
           help="seeds the data, the networks, the targets and the noise")
    _add_data_home(run)
    option("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=_run)


def _run(args):
    # Settings without an option of their own (epochs_g, cosine) keep their
    # defaults.
    settings = {
        name: getattr(args, name)
        for name in ExperimentConfig.field_names()
        if hasattr(args, name)
    }
    config = ExperimentConfig(**settings)
    from .experiments._execution import _run_one

    result = _run_one(config)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['dataset']} (N={result['n_samples']}, d={result['n_features']}, "
        f"{result['n_test']} test samples), scenario {result['scenario']}: width "
        f"{result['hidden_dim']}, epsilon {result['epsilon']:g}, {result['loss']} loss, "
        f"{result['targets']} targets, seed {result['seed']}"
    )
    for key, label in _ROWS:
        print(f"  {label:<36}{result[key]:>7.3f}")
    print(f"  {'fit time (s)':<36}{result['seconds']:>7.1f}")


def _setting_values(text):
    """``NAME=V1,V2,...`` of ``--param`` as ``(name, values)``."""
    name, sep, values = text.partition("=")
    if not sep or not values:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,..., got {text!r}")
    try:
        return name, tuple(parse_setting(name, value) for value in values.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _setting(text):
    """``NAME=VALUE`` of ``--set`` as ``(name, value)``."""
    name, values = _setting_values(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one value NAME=VALUE, got {text!r}")
    return name, values[0]


def _learning_rates(text):
    try:
        rates = tuple(float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected learning rates such as 1.0,0.1, got {text!r}"
        ) from None
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(f"learning rates must be positive, got {text!r}")
    return rates


def _n_jobs(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0: use a positive count or -1")
    return value


def _add_device(parser, default):
    parser.add_argument(
        "--device", default=default,
        help="torch device, such as cpu, cuda or cuda:1"
        + ("" if default else " (default: cpu)"),
    )


def _add_precision(parser):
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=_DEFAULTS["precision"],
        help="numeric precision of training f and g: 16-mixed is the authors' "
        "(CUDA only), bf16-mixed is fast on CPUs with AVX512-BF16 or AMX",
    )


def _settings(args):
    """The settings that ``sweep`` and ``reproduce`` change in every run.

    ``--precision`` where it is not the default, every ``--set``, ``--device``
    and ``--data-home``.
    """
    settings = dict(args.settings)
    if args.precision != _DEFAULTS["precision"]:
        settings["precision"] = args.precision
    if args.device is not None:
        if settings.get("device", args.device) != args.device:
            raise ValueError(
                f"--device {args.device} and --set device={settings['device']} "
                "disagree; give the device once."
            )
        settings["device"] = args.device
    if args.data_home is not None:
        settings["data_home"] = args.data_home
    return settings


def _add_sweep_options(parser):
    """Options that sweep and reproduce share: where to run, where to write."""
    option = parser.add_argument
    option("--n-jobs", type=_n_jobs,
           help="parallel runs through joblib (-1: one per CPU core; default: 1, "
           "or every worker of the cluster with --scheduler)")
    option("--scheduler", metavar="ADDRESS",
           help="run on the dask.distributed scheduler at ADDRESS "
           "(e.g. tcp://10.0.0.5:8786) through joblib's dask backend "
           "(default: this machine)")
    option("--quick", action="store_true",
           help="smoke run: synthetic data capped at N=200, d=50, 200 test "
           "samples, width 50, 20 epochs, three points per sweep; real data "
           "sets keep their size (MNIST and Fashion-MNIST are still loaded, "
           "and downloaded if not cached)")
    option("--set", dest="settings", action="append", type=_setting,
           default=[], metavar="NAME=VALUE",
           help="change a setting of the preset for every run: any setting "
           f"a sweep varies ({', '.join(SWEEPABLE)}), or device")
    option("--output", metavar="CSV", type=Path,
           help="results file, one row per run (default: NAME.csv, NAME-quick.csv "
           "with --quick); runs already in it are not run again, and one command "
           "at a time writes it")
    option("--figure", dest="figure_path", metavar="PNG", type=Path,
           help="figure file (default: the results file with .png); without "
           "matplotlib the command writes the results file alone")
    _add_device(parser, None)
    _add_precision(parser)
    option("--select", choices=SELECTIONS, default=SELECTIONS[0],
           help="report every point at the learning-rate pair where g is most "
           "accurate on D, or take every metric's maximum over the pairs "
           "separately, as the authors' notebooks do")
    _add_data_home(parser)


def _add_sweep_parser(subparsers):
    sweep = subparsers.add_parser(
        "sweep",
        help="one-parameter sweeps around one of the authors' presets",
        description="Vary settings of a preset one at a time, train every point "
        "for every learning-rate pair of the preset's grid, and plot the "
        "accuracies of f and g and their agreement at the best pair.",
    )
    sweep.add_argument("preset", choices=_Catalogue("PRESETS"), metavar="PRESET",
                       help="one of %(choices)s")
    sweep.add_argument("--param", dest="params", action="append", type=_setting_values,
                       required=True, metavar="NAME=V1,V2,...",
                       help="a setting of the preset and its values: one panel "
                       "(repeat for more panels); NAME is one of "
                       f"{', '.join(SWEEPABLE)}")
    sweep.add_argument("--learning-rates", type=_learning_rates, metavar="LR,LR,...",
                       help="learning-rate grid instead of the preset's; every "
                       "pair (lr_f, lr_g) of these is run (default: the preset's "
                       "grid)")
    sweep.add_argument("--cosine", action="store_true",
                       help="also measure the cosine similarity of theorem 3.3")
    _add_sweep_options(sweep)
    sweep.set_defaults(handler=_sweep)


def _add_reproduce_parser(subparsers):
    figure = subparsers.add_parser(
        "reproduce",
        help="one of the paper's figures",
        description="Run every configuration one of the paper's figures needs "
        "and draw it: PRESET (accuracies and agreement against every swept "
        "setting), PRESET-cosine (cosine similarity to theorem 3.3's "
        "direction) or PRESET-map (decision map).",
    )
    figure.add_argument("figure", choices=_Catalogue("FIGURES"), metavar="FIGURE",
                        help="one of %(choices)s")
    figure.add_argument("--resolution", type=_positive_int, default=400,
                        help="grid points per axis of a decision map (at most 50 "
                        "with --quick)")
    _add_sweep_options(figure)
    figure.set_defaults(handler=_reproduce)


def _paths(args, name):
    """The results file and the figure, their folders checked before any run."""
    from .experiments._files import _check_folder

    suffix = "-quick" if args.quick else ""
    output = args.output or Path(f"{name}{suffix}.csv")
    figure = args.figure_path or output.with_suffix(".png")
    _check_folder(output, "results file")
    _check_folder(figure, "figure")
    return output, figure


def _parallel(args):
    return {"n_jobs": args.n_jobs, "scheduler": args.scheduler, "progress": True}


_COLUMN_LABELS = {
    "f_train_accuracy": "f on D",
    "g_train_accuracy": "g on D",
    "agreement": "agreement",
    "cosine_similarity": "cosine",
}


def _print_panels(panels, metrics):
    """Every panel as a table: one line per point, at the selected pair."""
    for panel in panels:
        print(panel.title)
        header = "".join(f"{_COLUMN_LABELS[key]:>11}" for key in metrics)
        print(f"  {'value':>10}{header}{'lr_f':>8}{'lr_g':>8}")
        for index, value in enumerate(panel.param_values):
            numbers = "".join(f"{panel[key][index]:>11.3f}" for key in metrics)
            rates = "".join(f"{panel[key][index]:>8g}" for key in ("lr_f", "lr_g"))
            print(f"  {value!s:>10}{numbers}{rates}")


def _pyplot(figure):
    """matplotlib's pyplot on a file backend, and ``figure`` a file it can write.

    Called before any run starts.
    """
    from .plotting import _pyplot

    plt = _pyplot()
    plt.switch_backend("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    kind = figure.suffix[1:].lower()
    # Without a suffix, matplotlib writes a PNG and adds .png.
    if kind and kind not in formats:
        raise ValueError(
            f"The figure {str(figure)!r} cannot be written: matplotlib writes "
            f"{', '.join(sorted(formats))} files, not {kind!r}; use --figure with "
            "one of these suffixes, such as .png."
        )
    return plt


def _pyplot_or_none(figure, output):
    """:func:`_pyplot`, or None with a note on stderr if matplotlib is missing.

    The results file is the outcome of a sweep; the figure is drawn from it
    by the same command once matplotlib is installed, which finds every run
    done.
    """
    try:
        return _pyplot(figure)
    except ImportError as exc:
        print(
            f"pertlearn: note: {exc} Without it, the runs go to {output} and no "
            "figure is drawn; to draw it, install matplotlib and run this command "
            f"again: the runs in {output} are not run again.",
            file=sys.stderr,
        )
        return None


def _save(fig, path, plt):
    # "tight" keeps every legend and label inside the file.
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _note_quick_changes(asked, ran):
    """Say on stderr which values of the command line ``--quick`` replaced."""
    notes = [
        f"{before.param}={_values(after.values)} instead of {_values(before.values)}"
        for before, after in zip(asked, ran)
        if after.values != before.values
    ]
    notes += [
        f"{name}={after} instead of {before}"
        for (name, before), after in zip(asked[0].settings.items(), ran[0].settings.values())
        if after != before
    ]
    if notes:
        print(
            f"pertlearn: note: --quick runs {'; '.join(notes)} (at most three points "
            "a sweep, within its caps: N 200, d 50, width 50, 200 test samples, 20 "
            "epochs); leave out --quick to run the values asked.",
            file=sys.stderr,
        )


def _values(values):
    return ",".join(map(str, values))


def _sweep(args):
    from .experiments import PRESETS, Sweep

    preset = PRESETS[args.preset]
    if args.learning_rates is not None:
        preset = replace(preset, learning_rates=args.learning_rates)
    settings = _settings(args)
    sweeps = [
        Sweep(name, values, settings=settings, cosine=args.cosine)
        for name, values in args.params
    ]
    if args.quick:
        preset = preset.quick()
        quick = [sweep.quick() for sweep in sweeps]
        _note_quick_changes(sweeps, quick)
        sweeps = quick
    # Every run is a valid configuration, and the files can be written,
    # before the first run starts.
    preset.runs(sweeps)
    name = "-".join([args.preset, *(param for param, _ in args.params)])
    output, figure = _paths(args, name)
    plt = _pyplot_or_none(figure, output)
    from .experiments import run_sweeps
    from .plotting import ACCURACY_METRICS, plot_sweeps

    result = run_sweeps(preset, sweeps, output, select=args.select, **_parallel(args))
    metrics = ACCURACY_METRICS + (("cosine_similarity",) if args.cosine else ())
    _print_panels(result.panels, metrics)
    if plt is None:
        print(f"{len(result.results)} runs in {output}; no figure (no matplotlib)")
        return
    _save(plot_sweeps(result.panels, metrics=metrics, title=name), figure, plt)
    print(f"{len(result.results)} runs in {output}; figure in {figure}")


def _reproduce(args):
    from .experiments import FIGURES, reproduce
    from .plotting import ACCURACY_METRICS, plot_decision_map, plot_sweeps

    output, figure = _paths(args, args.figure)
    kind = FIGURES[args.figure][1]
    # A decision map is not in the results file: it needs matplotlib first.
    plt = _pyplot(figure) if kind == "map" else _pyplot_or_none(figure, output)
    options = {} if kind == "map" else {"select": args.select, **_parallel(args)}
    result = reproduce(
        args.figure,
        output,
        quick=args.quick,
        resolution=args.resolution,
        settings=_settings(args),
        **options,
    )
    title = f"{result.preset.name}: {result.preset.description}"
    if result.kind == "map":
        ax = plot_decision_map(result.decision_map)
        ax.set_title(title, fontsize="medium")
        fig = ax.figure
        row = result.results[0]
        print(f"{args.figure}: agreement of f and g on test data {row['agreement']:.3f}")
    else:
        metrics = ("cosine_similarity",) if result.kind == "cosine" else ACCURACY_METRICS
        _print_panels(result.panels, metrics)
        if plt is None:
            print(f"{len(result.results)} runs in {output}; no figure (no matplotlib)")
            return
        fig = plot_sweeps(result.panels, metrics=metrics, title=title)
    _save(fig, figure, plt)
    print(f"{len(result.results)} runs in {output}; figure in {figure}")


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
    _add_sweep_parser(subparsers)
    _add_reproduce_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of ``pertlearn`` and ``python -m sklearn_pertlearn``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, OSError, ImportError, MemoryError) as exc:
        # One line, as for bad options: the library's errors say what was
        # wrong with which value (OSError: a file that cannot be written or
        # that another command writes, a scheduler or a download that cannot
        # be reached; ImportError: an optional dependency that is missing;
        # MemoryError: a run too large for its device, and what to lower).
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
