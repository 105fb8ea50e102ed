"""scikit-learn's estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pertlearn import WideTwoLayerNetClassifier

ESTIMATORS = [
    # The defaults, as a user's drop-in classifier gets them.
    WideTwoLayerNetClassifier(),
    # The paper's identity loss, mini-batches and a leaky slope.
    WideTwoLayerNetClassifier(
        hidden_dim=32, slope=0.25, loss="identity", max_epochs=100, batch_size=16
    ),
]


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
