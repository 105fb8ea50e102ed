"""Runs, presets, sweeps and resumable results files of ``experiments``."""

import csv
import math
import re
import warnings
from dataclasses import asdict, replace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_pertlearn.experiments import (
    COLUMNS,
    FIGURES,
    METRICS,
    PRESETS,
    ExperimentConfig,
    Preset,
    Sweep,
    build_classifier,
    load_experiment_data,
    parse_setting,
    reproduce,
    run_decision_map,
    run_experiment,
    run_experiments,
    run_sweeps,
    summarize_sweep,
)
from sklearn_pertlearn.experiments._execution import _describe

# Small enough for a tenth of a second per run, large enough to learn.
TINY = ExperimentConfig(n_samples=100, n_features=20, n_test=100, epochs=20)


def _rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _outcome(result):
    """A result without its wall time, which differs from run to run."""
    return {key: value for key, value in result.items() if key != "seconds"}


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"hidden_dim": 0}, "'hidden_dim' parameter of ExperimentConfig.*Got 0"),
        ({"dataset": "cifar"}, "'dataset' parameter.*Got 'cifar'"),
        ({"epsilon": -0.1}, "'epsilon' parameter.*Got -0.1"),
        ({"lr_g": 0.0}, "'lr_g' parameter.*Got 0.0"),
        ({"slope": 1.0}, "'slope' parameter.*Got 1.0"),
        ({"epochs_g": -1}, "'epochs_g' parameter.*Got -1"),
        ({"loss": "hinge"}, "'loss' parameter.*Got 'hinge'"),
        ({"precision": "bf16"}, "'precision' parameter.*Got 'bf16'"),
        ({"cosine": True, "scenario": "uniform"}, "scenario='uniform' perturbs noise"),
    ],
)
def test_config_rejects_bad_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**settings)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        TINY.hidden_dim = 5


def test_parse_setting_types_and_errors():
    assert parse_setting("n_samples", "10") == 10
    assert parse_setting("slope", "0.5") == 0.5
    assert parse_setting("cosine", "True") is True
    assert parse_setting("epochs_g", "") is None
    with pytest.raises(ValueError, match="hidden_dim takes a value of type int, got 'ten'"):
        parse_setting("hidden_dim", "ten")
    with pytest.raises(ValueError, match="Unknown setting 'width'"):
        parse_setting("width", "10")


def test_synthetic_training_set_is_balanced_and_independent_of_test_size():
    X, y, X_test, _ = load_experiment_data(replace(TINY, n_samples=10, n_test=7))
    X_other, y_other, X_test_other, _ = load_experiment_data(
        replace(TINY, n_samples=10, n_test=30)
    )
    # Half of each class, as the authors drew them, so that tiny N still has
    # both classes.
    assert np.bincount(y + 1)[[0, 2]].tolist() == [5, 5]
    np.testing.assert_array_equal(X, X_other)
    np.testing.assert_array_equal(y, y_other)
    assert X_test.shape == (7, 20) and X_test_other.shape == (30, 20)


def test_build_classifier_sets_the_papers_training_explicitly():
    model = build_classifier(replace(TINY, lr_f=0.5, lr_g=0.2, epochs=30, epochs_g=7))
    f, g = model.estimator, model.student
    assert (f.lr, f.max_epochs, g.lr, g.max_epochs) == (0.5, 30, 0.2, 7)
    for network in (f, g):
        assert network.get_params()["momentum"] == 0.9
        assert network.batch_size is None
        assert network.lr_scheduler == "plateau"
        assert network.loss == "identity"
    assert build_classifier(TINY).student.max_epochs == TINY.epochs


def test_run_experiment_reports_the_papers_numbers():
    result = run_experiment(TINY)
    assert set(result) == set(COLUMNS)
    # The same fit again (CPU fits are repeatable): every number is the one
    # its name says.
    X, y, X_test, y_test = load_experiment_data(TINY)
    model = build_classifier(TINY).fit(X, y)
    f, g = model.source_estimator_, model.estimator_
    assert result["f_train_accuracy"] == pytest.approx(f.score(X, y), abs=1e-12)
    assert result["g_train_accuracy"] == pytest.approx(g.score(X, y), abs=1e-12)
    assert result["f_test_accuracy"] == pytest.approx(f.score(X_test, y_test), abs=1e-12)
    assert result["g_test_accuracy"] == pytest.approx(g.score(X_test, y_test), abs=1e-12)
    assert result["agreement"] == pytest.approx(
        np.mean(f.predict(X_test) == g.predict(X_test)), abs=1e-12
    )
    # Seeds 0-3 gave f 0.90 to 0.95 on D and an agreement of 0.69 to 0.82
    # after 20 epochs on N = 100: g learned from f, well above chance.
    assert result["f_train_accuracy"] >= 0.85 and result["agreement"] >= 0.6
    assert result["cosine_similarity"] is None
    assert result["seconds"] > 0


def test_real_data_keeps_its_own_sizes_and_reports_them(tmp_path):
    with pytest.raises(ValueError, match="n_samples=100, n_test=5 with dataset='digits'"):
        ExperimentConfig(dataset="digits", n_samples=100, n_test=5)
    with pytest.raises(ValueError, match="synthetic data only"):
        PRESETS["MNIST-a"].configs(Sweep("n_features", (10, 20)))
    digits = ExperimentConfig(dataset="digits", hidden_dim=20, epochs=5)
    assert (digits.n_samples, digits.n_features, digits.n_test) == (None, None, None)
    X, _, X_test, _ = load_experiment_data(digits)
    output = tmp_path / "digits.csv"
    (result,) = run_experiments([digits], output)
    # 1 and 2 of scikit-learn's digits: 359 images, 30 % of them for testing.
    assert (result["n_samples"], result["n_features"], result["n_test"]) == (
        len(X), X.shape[1], len(X_test)
    ) == (251, 64, 108)
    # The row records the sizes used and still counts as the run asked.
    assert run_experiments([digits], output) == [result]
    assert len(_rows(output)) == 1
    # Real data sets keep their size in a smoke run too.
    assert PRESETS["MNIST-a"].quick().config.n_samples is None


def test_cosine_similarity_follows_theorem_3_3_in_both_scenarios():
    config = replace(TINY, n_features=50, hidden_dim=1000, cosine=True)
    a = run_experiment(config)
    b = run_experiment(replace(config, scenario="b"))
    # Over seeds 0-3 a width-1000 network gave 0.975 to 0.985 (0.96 to 0.98
    # at width 10), so 0.95 leaves a margin.
    assert a["cosine_similarity"] > 0.95
    # Same seed, same f, same targets: scenario b adds the same r to x, and
    # x_adv - x gives r back up to float32 rounding.
    assert b["cosine_similarity"] == pytest.approx(a["cosine_similarity"], abs=1e-4)


def test_run_decision_map_gives_the_map_of_the_fitted_pair():
    result, dmap = run_decision_map(TINY, limits=(-3.0, 3.0), resolution=15)
    assert dmap.agreement.shape == dmap.hat_g.shape == (15, 15)
    assert dmap.xx.min() == -3.0 and dmap.xx.max() == 3.0
    # The map's run is the plain run of the same settings.
    assert _outcome(result) == _outcome(run_experiment(TINY))
    with pytest.raises(ValueError, match="scenario 'a' or 'b'"):
        run_decision_map(replace(TINY, scenario="uniform"))


# The authors' configurations (PAPER.md): d, m, N, epsilon, epochs, lr grid, seed.
# The last two numbers count the distinct runs of the accuracy and cosine
# figures: every point of every sweep at every pair of the grid, once.
@pytest.mark.parametrize(
    "name, dataset, scenario, d, m, n, epsilon, epochs, rates, seed, runs, cosine_runs",
    [
        ("sG-a", "shifted-gaussian", "a", 100, 100, 1000, 0.01, 1000, (1.0, 0.1), 0,
         440, 60),
        ("sG-b", "shifted-gaussian", "b", 5000, 100, 10000, 0.7, 1000, (1.0, 0.1), 1,
         1001, 0),
        ("G-a", "gaussian", "a", 10000, 100, 10000, 0.1, 1000, (1.0, 0.1), 0, 516, 114),
        ("G-b", "gaussian", "b", 10000, 100, 10000, 10.0, 1000, (1.0, 0.1), 0, 500, 0),
        ("MNIST-a", "mnist", "a", None, 100, None, 0.14, 100, (0.01, 0.001), 0, 268, 76),
        ("MNIST-b", "mnist", "b", None, 100, None, 0.14, 100, (0.01, 0.001), 1, 320, 0),
        ("FMNIST-a", "fashion-mnist", "a", None, 100, None, 0.14, 100, (0.01, 0.001), 0,
         284, 76),
        ("FMNIST-b", "fashion-mnist", "b", None, 100, None, 0.14, 100, (0.01, 0.001), 2,
         284, 0),
    ],
)
def test_presets_hold_the_authors_configurations(
    name, dataset, scenario, d, m, n, epsilon, epochs, rates, seed, runs, cosine_runs
):
    preset = PRESETS[name]
    config = preset.config
    assert (config.dataset, config.scenario, config.hidden_dim) == (dataset, scenario, m)
    assert (config.epsilon, config.epochs, config.epochs_g, config.seed) == (
        epsilon, epochs, epochs, seed
    )
    assert config.loss == "identity" and config.slope == 0.0
    assert (config.n_features, config.n_samples) == (d, n)
    assert preset.learning_rates == rates
    assert len(preset.lr_pairs) == 4
    # Every run of every figure is a valid configuration, and none is lost
    # or doubled when the sweeps are merged.
    assert len(preset.runs()) == runs
    assert len(preset.runs(preset.cosine_sweeps)) == cosine_runs
    assert (f"{name}-cosine" in FIGURES) == (cosine_runs > 0)
    assert f"{name}-map" in FIGURES and preset.map_config is not None


def test_dimension_sweeps_scale_epsilon_as_the_authors_did():
    dimensions = PRESETS["sG-a"].sweeps[0]
    assert dimensions.param == "n_features" and dimensions.cosine
    # The values of the authors' script: sqrt(d) * 0.001 cut to two digits.
    assert dimensions.linked["epsilon"] == (
        0.0031, 0.0044, 0.0054, 0.0063, 0.007, 0.0077, 0.0083, 0.0089, 0.0094, 0.01
    )
    for name, scale in (("sG-a", 0.001), ("sG-b", 0.01), ("G-a", 0.001), ("G-b", 0.1)):
        sweeps = [s for s in PRESETS[name].sweeps if s.param == "n_features"]
        assert sweeps
        for sweep in sweeps:
            for d, eps in zip(sweep.values, sweep.linked["epsilon"]):
                # Cutting to two digits loses less than a tenth.
                assert 0.9 * math.sqrt(d) * scale < eps <= math.sqrt(d) * scale


def test_sweeps_pass_through_their_preset():
    # A panel varies one setting around the preset, so (apart from the
    # short trainings of g) one of its points is the preset itself.
    preset = PRESETS["sG-a"]
    base = asdict(preset.config)
    for sweep in preset.sweeps:
        if sweep.settings or sweep.param == "epochs_g":
            continue
        runs = [asdict(replace(c, cosine=False)) for p in preset.configs(sweep) for c in p]
        assert base in runs, sweep.name


def test_sweep_validates_its_settings():
    with pytest.raises(ValueError, match="Cannot sweep 'lr_f'"):
        Sweep("lr_f", (0.1, 1.0))
    with pytest.raises(ValueError, match="Cannot sweep 'width'"):
        Sweep("width", (1, 2))
    with pytest.raises(ValueError, match="Cannot sweep 'device'"):
        Sweep("device", ("cpu", "cuda"))
    with pytest.raises(ValueError, match="Cannot set 'lr_g'"):
        Sweep("hidden_dim", (1, 2), settings={"lr_g": 0.1})
    # Where a run is computed is a setting of the whole sweep, not a panel.
    assert Sweep("hidden_dim", (1, 2), settings={"device": "cpu"}).settings == {"device": "cpu"}
    with pytest.raises(ValueError, match="has no values"):
        Sweep("hidden_dim", ())
    with pytest.raises(ValueError, match="linked\\['epsilon'\\] has 1 values"):
        Sweep("n_features", (10, 20), linked={"epsilon": (0.1,)})


def test_quick_presets_are_small():
    for preset in map(Preset.quick, PRESETS.values()):
        for config in preset.runs() + preset.runs(preset.cosine_sweeps):
            assert config.epochs <= 20 and config.epochs_g <= 20
            if config.dataset in ("shifted-gaussian", "gaussian"):
                assert config.n_samples <= 200 and config.n_features <= 50
                assert config.hidden_dim <= 50
        assert all(len(sweep.values) <= 3 for sweep in preset.sweeps)
    assert Sweep("n_samples", (2, 4, 1000, 5000)).quick().values == (2, 4, 200)


def _fake_results(preset, sweep, g_accuracy):
    """Results of every run of ``sweep`` with chosen numbers, without training."""
    results = []
    for point, accuracies in zip(preset.configs(sweep), g_accuracy):
        for pair, (config, accuracy) in enumerate(zip(point, accuracies)):
            results.append(
                {
                    **asdict(config),
                    **dict.fromkeys(METRICS),
                    "f_train_accuracy": 1.0 - pair / 10,
                    "g_train_accuracy": accuracy,
                    "agreement": pair / 10,
                    "seconds": 1.0,
                }
            )
    return results


def test_summarize_sweep_reports_the_pair_where_g_is_best():
    preset = PRESETS["sG-a"]
    sweep = Sweep("slope", (0.0, 0.5, 0.99))
    accuracies = [[0.6, 0.9, 0.7, 0.8], [0.9, 0.9, 0.5, 0.5], [0.5, 0.6, 0.7, 0.8]]
    results = _fake_results(preset, sweep, accuracies)
    summary = summarize_sweep(preset, sweep, results)
    np.testing.assert_array_equal(summary.g_train_accuracy, [0.9, 0.9, 0.8])
    # All numbers of a point come from the selected pair; a tie keeps the
    # first pair of the grid.
    np.testing.assert_allclose(summary.agreement, [0.1, 0.0, 0.3])
    np.testing.assert_array_equal(summary.lr_f, [1.0, 1.0, 0.1])
    np.testing.assert_array_equal(summary.lr_g, [0.1, 1.0, 0.1])
    assert np.isnan(summary.cosine_similarity).all()

    authors = summarize_sweep(preset, sweep, results, select="max")
    np.testing.assert_allclose(authors.agreement, [0.3, 0.3, 0.3])
    np.testing.assert_allclose(authors.f_train_accuracy, [1.0, 1.0, 1.0])
    assert np.isnan(authors.lr_f).all()

    missing = summarize_sweep(preset, sweep, results[4:])
    assert np.isnan(missing.g_train_accuracy[0])
    with pytest.raises(ValueError, match="select must be"):
        summarize_sweep(preset, sweep, results, select="best")


def test_run_experiments_appends_every_run_and_resumes(tmp_path):
    output = tmp_path / "results.csv"
    configs = [replace(TINY, hidden_dim=m) for m in (5, 10, 20)]
    first = run_experiments(configs[:2], output)
    with output.open(newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 3
    again = run_experiments(configs, output)
    # The two finished runs come back from the file, wall time included;
    # only the third is run.
    assert again[:2] == first
    assert [r["hidden_dim"] for r in again] == [5, 10, 20]
    assert len(output.read_text().splitlines()) == 4
    assert run_experiments(configs, output) == again


def test_run_experiments_drops_a_row_cut_short_and_redoes_it(tmp_path):
    output = tmp_path / "results.csv"
    configs = [replace(TINY, seed=s) for s in (0, 1)]
    results = run_experiments(configs, output)
    text = output.read_text()
    output.write_text(text[: len(text) - 25])
    with pytest.warns(UserWarning, match="incomplete row"):
        redone = run_experiments(configs, output)
    assert list(map(_outcome, redone)) == list(map(_outcome, results))
    assert len(output.read_text().splitlines()) == 3


def test_run_experiments_refuses_a_foreign_file(tmp_path):
    output = tmp_path / "other.csv"
    output.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="is not a results file of this version"):
        run_experiments([TINY], output)


def test_run_experiments_merges_duplicates_and_keeps_the_cosine(tmp_path):
    configs = [TINY, replace(TINY, cosine=True, device="cpu"), TINY]
    results = run_experiments(configs, tmp_path / "results.csv")
    assert len(results) == 1
    assert results[0]["cosine_similarity"] is not None
    # A run found without the cosine is run again when the cosine is asked.
    output = tmp_path / "plain.csv"
    run_experiments([TINY], output)
    assert run_experiments([replace(TINY, cosine=True)], output)[0]["cosine_similarity"]


def test_caching_f_does_not_change_results():
    configs = [replace(TINY, epsilon=eps) for eps in (0.0, 0.05)] + [
        replace(TINY, lr_g=0.1)
    ]
    cached = run_experiments(configs)
    plain = run_experiments(configs, memory=False)
    assert list(map(_outcome, cached)) == list(map(_outcome, plain))


def test_two_worker_processes_give_the_sequential_results_in_order(tmp_path):
    # loky's workers run torch with one thread (2 cores // 2 jobs), as this
    # process does here, so the sums run in the same order.
    configs = [replace(TINY, hidden_dim=m, lr_g=lr) for m in (5, 50) for lr in (1.0, 0.1)]
    parallel = run_experiments(configs, tmp_path / "parallel.csv", n_jobs=2)
    assert [(r["hidden_dim"], r["lr_g"]) for r in parallel] == [
        (c.hidden_dim, c.lr_g) for c in configs
    ]
    assert list(map(_outcome, parallel)) == list(map(_outcome, run_experiments(configs)))


def test_a_failed_run_is_left_out_with_a_warning(tmp_path):
    # With seed 0 the Gaussian's two random labels at d=50 are both -1: f
    # cannot be trained on one class.
    one_class = replace(TINY, dataset="gaussian", n_samples=2, n_features=50)
    output = tmp_path / "results.csv"
    with pytest.warns(UserWarning, match="1 of 2 runs failed.*at least 2 classes"):
        results = run_experiments([one_class, TINY], output)
    assert [r["dataset"] for r in results] == ["shifted-gaussian"]
    with pytest.raises(ValueError, match="Every run failed"):
        run_experiments([one_class])


def test_convergence_warnings_of_runs_are_counted_once(tmp_path):
    # Width 1: f predicts one class on D and warns (measured); at 50 epochs
    # TINY's g learns f (agreement 0.88; at TINY's 20 it is 0.70, kappa 0.30,
    # and the run warns).
    narrow = replace(TINY, hidden_dim=1)
    good = replace(TINY, epochs=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_experiments([narrow, good], tmp_path / "results.csv")
    (summary,) = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    message = str(summary.message)
    assert re.search(r"^1 of 2 runs ended with a convergence warning.*hidden_dim=1", message)
    assert "collapsed" in message
    assert [r["hidden_dim"] for r in results] == [1, TINY.hidden_dim]


def test_a_failed_run_is_described_by_the_settings_that_apply():
    # Real data sets leave the synthetic sizes None: they are not listed.
    assert _describe(ExperimentConfig(dataset="digits", epochs=3)) == (
        "dataset='digits', epochs=3"
    )
    assert _describe(ExperimentConfig(n_samples=20)) == "n_samples=20"
    assert _describe(ExperimentConfig()) == "the defaults"


def test_quick_sweep_reproduces_the_papers_shape(tmp_path):
    # sG-a's epsilon panel: with epsilon = 0 g sees zero vectors only, with
    # the preset's epsilon it learns f. Quick runs (N=200, 20 epochs) gave
    # agreements 0.47 and 0.83.
    preset = PRESETS["sG-a"].quick()
    epsilon = next(s for s in preset.sweeps if s.param == "epsilon")
    result = run_sweeps(preset, (epsilon,), tmp_path / "eps.csv")
    (panel,) = result.panels
    assert panel.param_values.tolist() == [0.0, 0.005, 0.01]
    assert panel.agreement[-1] > panel.agreement[0] + 0.2
    assert panel.f_train_accuracy[-1] > 0.9
    assert len(result.results) == 3 * len(preset.lr_pairs)


def test_reproduce_a_map_writes_its_run_once(tmp_path):
    output = tmp_path / "map.csv"
    result = reproduce("sG-a-map", output, quick=True)
    assert result.kind == "map"
    assert result.decision_map.agreement.shape == (50, 50)
    reproduce("sG-a-map", output, quick=True)
    assert len(output.read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="Unknown figure 'sG-c'"):
        reproduce("sG-c")


def test_local_runs_on_cuda_spread_over_the_gpus(monkeypatch):
    # Simulated: two visible GPUs. Runs that share f stay on one GPU, the
    # next f goes to the next; indexed devices, one job and a cluster are
    # left as asked.
    from sklearn_pertlearn.experiments import _execution

    monkeypatch.setattr(_execution.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(_execution.torch.cuda, "device_count", lambda: 2)
    cuda = replace(TINY, device="cuda")
    runs = [
        replace(cuda, lr_g=0.1),  # f of width 100
        replace(cuda, lr_g=1.0),  # the same f
        replace(cuda, hidden_dim=10),  # another f
        replace(cuda, hidden_dim=20),  # a third
        replace(TINY, device="cuda:1", hidden_dim=30),
    ]
    devices = [run.device for run in _execution._spread_over_gpus(runs, 2, None)]
    assert devices == ["cuda:0", "cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert _execution._spread_over_gpus(runs, 1, None) == runs
    assert _execution._spread_over_gpus(runs, 2, "tcp://127.0.0.1:8786") == runs
