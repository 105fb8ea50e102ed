"""Tests of AdversarialPerturbationTransformer."""

import numpy as np
import torch
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_pertlearn.classifier import WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.perturbation import targeted_perturbation
from sklearn_pertlearn.transformer import (
    AdversarialPerturbationSampler,
    AdversarialPerturbationTransformer,
)


def _net(**params):
    return WideTwoLayerNetClassifier(
        **{
            "hidden_dim": 50,
            "slope": 0.0,
            "loss": "identity",
            "lr": 0.1,
            "max_epochs": 20,
            "random_state": 0,
        }
        | params
    )


def _data(n_samples=200, n_features=10, seed=0):
    return make_shifted_gaussian(n_samples, n_features, random_state=seed)


def test_fit_resample_is_the_paper_attack_on_a_fitted_clone():
    X, y = _data()
    net = _net()
    attack = AdversarialPerturbationTransformer(net, epsilon=0.3, random_state=0)
    X_adv, y_adv = attack.fit_resample(X, y)
    assert not hasattr(net, "classes_")
    assert attack.estimator_ is not net
    np.testing.assert_array_equal(attack.classes_, [-1, 1])
    np.testing.assert_allclose(np.linalg.norm(X_adv, axis=1), 0.3, rtol=1e-5)
    np.testing.assert_array_equal(np.unique(y_adv, return_counts=True)[1], [100, 100])
    index = (y_adv == 1).astype(int)
    expected = targeted_perturbation(attack.estimator_.module_, X, index, epsilon=0.3)
    np.testing.assert_array_equal(X_adv, expected)


def test_base_data_adds_the_perturbation():
    X, y = _data()
    attack = AdversarialPerturbationTransformer(
        _net(), epsilon=0.3, base="data", random_state=0
    )
    X_adv, y_adv = attack.fit_resample(X, y)
    np.testing.assert_allclose(np.linalg.norm(X_adv - X, axis=1), 0.3, rtol=1e-4)
    np.testing.assert_allclose(X_adv - X, attack.perturb(X, y_adv), atol=1e-6)


def test_transform_is_repeatable_and_matches_fit_resample():
    X, y = _data()
    attack = AdversarialPerturbationTransformer(_net(), epsilon=0.2, random_state=3)
    X_adv, _ = attack.fit_resample(X, y)
    np.testing.assert_array_equal(attack.transform(X), X_adv)
    np.testing.assert_array_equal(attack.transform(X), attack.transform(X))
    other_seed = clone(attack).set_params(random_state=4).fit(X, y)
    assert not np.array_equal(other_seed.transform(X), X_adv)


def test_shift_targets_flip_true_labels_and_predictions():
    X, y = _data()
    attack = AdversarialPerturbationTransformer(_net(), targets="shift")
    _, y_adv = attack.fit_resample(X, y)
    np.testing.assert_array_equal(y_adv, -y)
    # transform has no labels: the target is the flip of f's prediction.
    r = attack.transform(X)
    expected = attack.perturb(X, -attack.estimator_.predict(X))
    np.testing.assert_array_equal(r, expected)


def test_string_labels_and_three_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    y = np.array(["cat", "dog", "eel"])[np.arange(90) % 3]
    X[np.arange(90), np.arange(90) % 3] += 3
    attack = AdversarialPerturbationTransformer(
        _net(loss="logistic"), epsilon=0.5, targets="random_other", random_state=0
    )
    X_adv, y_adv = attack.fit_resample(X, y)
    assert set(y_adv) == {"cat", "dog", "eel"} and not np.any(y_adv == y)
    np.testing.assert_allclose(np.linalg.norm(X_adv, axis=1), 0.5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"not in classes: \['fox'\]"):
        attack.perturb(X[:2], ["cat", "fox"])


def test_prefit_uses_the_estimator_as_it_is():
    X, y = _data()
    net = _net().fit(X, y)
    attack = AdversarialPerturbationTransformer(net, prefit=True, random_state=0)
    attack.fit(X, y)
    assert attack.estimator_ is net
    with pytest.raises(ValueError, match="X has 3 features, but the prefit"):
        AdversarialPerturbationTransformer(net, prefit=True).fit(X[:, :3], y)
    with pytest.raises(NotFittedError):
        AdversarialPerturbationTransformer(_net(), prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="prefit=True needs a fitted estimator"):
        AdversarialPerturbationTransformer(prefit=True).fit(X, y)


def test_estimator_without_a_network_is_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match="module_ .* LogisticRegression does not"):
        AdversarialPerturbationTransformer(LogisticRegression()).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"epsilon": -1.0}, "'epsilon' parameter"),
        ({"targets": "flip"}, "'targets' parameter"),
        ({"base": "noise"}, "'base' parameter"),
        ({"norm": "l0"}, "'norm' parameter"),
        ({"clip": (1, 0)}, r"low < high"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _data(n_samples=20)
    with pytest.raises(ValueError, match=match):
        AdversarialPerturbationTransformer(_net(max_epochs=1), **params).fit_resample(
            X, y
        )


def test_perturb_and_transform_check_their_input():
    X, y = _data(n_samples=20)
    attack = AdversarialPerturbationTransformer(_net(max_epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        attack.transform(X[:, :3])
    with pytest.raises(ValueError, match=r"y_target must have shape \(20,\)"):
        attack.perturb(X, y[:5])
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        attack.transform(X_nan)


def test_set_output_pandas_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data(n_samples=40, n_features=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    attack = AdversarialPerturbationTransformer(_net(max_epochs=1), random_state=0)
    attack.set_output(transform="pandas").fit(frame, y)
    out = attack.transform(frame)
    assert list(out.columns) == ["a", "b", "c"]
    np.testing.assert_array_equal(attack.get_feature_names_out(), ["a", "b", "c"])


def test_imblearn_pipeline_learns_from_perturbations_only():
    pytest.importorskip("imblearn")
    from imblearn.pipeline import Pipeline

    X, y = _data(n_samples=400, n_features=50)
    X_test, y_test = _data(n_samples=400, n_features=50, seed=1)
    net = _net(hidden_dim=100, lr=1.0, max_epochs=50)
    attack = AdversarialPerturbationTransformer(net, epsilon=0.01, random_state=0)
    # imbalanced-learn refuses a step that has both transform and fit_resample:
    # the transformer itself is refused, the sampler is taken.
    student = clone(net).set_params(random_state=1)
    with pytest.raises(TypeError, match="implements both"):
        Pipeline([("attack", attack), ("student", student)]).fit(X, y)
    sampler = AdversarialPerturbationSampler(attack)
    pipeline = Pipeline([("attack", sampler), ("student", student)]).fit(X, y)
    # The student saw nothing but perturbations of length 0.01 ...
    fitted_attack = pipeline.named_steps["attack"].transformer_
    np.testing.assert_allclose(
        np.linalg.norm(fitted_attack.transform(X), axis=1), 0.01, rtol=1e-5
    )
    X_adv, _ = clone(sampler).fit_resample(X, y)
    np.testing.assert_array_equal(X_adv, attack.fit_resample(X, y)[0])
    # ... yet classifies clean data, to which predict goes straight.
    # Measured: 1.00 on held-out data (d=50, N=400, 50 epochs).
    assert pipeline.score(X_test, y_test) >= 0.9


def test_non_finite_network_or_epsilon_is_a_clear_error():
    X, y = _data(n_samples=40)
    net = _net(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="perturbations are not finite.*epsilon=1e\\+39"):
        AdversarialPerturbationTransformer(net, epsilon=1e39, prefit=True).fit_resample(X, y)
    with torch.no_grad():
        net.module_.weight[0, 0] = float("nan")
    attack = AdversarialPerturbationTransformer(net, epsilon=0.1, prefit=True)
    with pytest.raises(ValueError, match="network's weights or outputs are not finite"):
        attack.fit_resample(X, y)
