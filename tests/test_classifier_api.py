"""WideTwoLayerNetClassifier as users call it: outputs, inputs, errors, devices, persistence."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import sklearn
import pytest
import scipy.sparse
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_pertlearn import WideTwoLayerNetClassifier



from conftest import requires_cuda


@pytest.mark.parametrize(
    "labels", [np.array(["no", "yes"]), np.array([-1, 1]), np.array([3, 7])]
)
def test_two_classes_map_to_minus_and_plus_one_in_order(binary_data, labels):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(10, max_epochs=30, random_state=0).fit(X, labels[y])
    assert np.array_equal(clf.classes_, labels)
    margins = clf.decision_function(X)
    assert margins.shape == (len(X),) and margins.dtype == np.float32
    assert np.array_equal(clf.predict(X), labels[(margins > 0).astype(int)])
    assert np.array_equal(margins, clf.module_(torch.as_tensor(X, dtype=torch.float32))
                          .detach().numpy())
    assert clf.score(X, labels[y]) > 0.95


def test_multiclass_outputs(multiclass_data):
    X, y = multiclass_data
    clf = WideTwoLayerNetClassifier(max_epochs=200, random_state=0).fit(X, y)
    logits = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert logits.shape == proba.shape == (len(X), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.predict(X), logits.argmax(axis=1))
    assert clf.score(X, y) > 0.9


def test_predict_proba_is_sigmoid_of_margin(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(
        10, loss="identity", max_epochs=30, random_state=0
    ).fit(X, y)
    proba = clf.predict_proba(X)
    expected = 1 / (1 + np.exp(-clf.decision_function(X).astype(np.float64)))
    assert np.allclose(proba[:, 1], expected)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_float64_inputs_and_dtype(binary_data):
    X, y = binary_data
    float32 = WideTwoLayerNetClassifier(8, max_epochs=5, random_state=0)
    assert float32.fit(X.astype(np.float64), y).decision_function(X).dtype == np.float32
    float64 = WideTwoLayerNetClassifier(8, max_epochs=5, dtype="float64", random_state=0)
    assert float64.fit(X, y).decision_function(X).dtype == np.float64
    assert float64.module_.weight.dtype == torch.float64
    # The same seed gives the same initial weights in either precision.
    assert np.allclose(
        float32.fit(X, y).decision_function(X), float64.decision_function(X), atol=1e-4
    )


def test_verbose_shows_a_progress_bar(binary_data, capsys):
    X, y = binary_data
    WideTwoLayerNetClassifier(8, max_epochs=3, verbose=1, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "/3 [" in err and "epoch" in err
    WideTwoLayerNetClassifier(8, max_epochs=3, random_state=0).fit(X, y)
    assert capsys.readouterr().err == ""


def test_pandas_input_records_feature_names(binary_data):
    pd = pytest.importorskip("pandas")
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    clf = WideTwoLayerNetClassifier(8, max_epochs=5, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert np.array_equal(clf.predict(frame), clf.predict(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_dim": 0}, "'hidden_dim' parameter"),
        ({"slope": 1.0}, "'slope' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"loss": "hinge"}, "'loss' parameter"),
        ({"max_epochs": -1}, "'max_epochs' parameter"),
        ({"lr_scheduler": "cosine"}, "'lr_scheduler' parameter"),
        ({"device": "gpu"}, "device must name a torch device"),
        ({"class_weight": {5: 2.0}}, "class_weight has labels"),
    ],
)
def test_bad_parameters_raise_clear_errors(binary_data, params, match):
    X, y = binary_data
    with pytest.raises(ValueError, match=match):
        WideTwoLayerNetClassifier(**{"max_epochs": 1, **params}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_without_a_gpu_raises(binary_data):
    with pytest.raises(ValueError, match="CUDA is not available"):
        WideTwoLayerNetClassifier(device="cuda").fit(*binary_data)


def test_bad_inputs_raise_clear_errors(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=2, random_state=0)
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[0, 0] = bad
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            clf.fit(X_bad, y)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros_like(y))
    sparse_bad = scipy.sparse.csr_matrix(X)
    sparse_bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(sparse_bad, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 6"):
        clf.predict(X[:, :5])


def test_pipeline_grid_search_cross_validation(binary_data):
    X, y = binary_data
    pipe = make_pipeline(
        StandardScaler(), WideTwoLayerNetClassifier(max_epochs=20, random_state=0)
    )
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9
    grid = {"widetwolayernetclassifier__hidden_dim": [4, 16],
            "widetwolayernetclassifier__lr": [0.01, 0.1]}
    sequential = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert np.array_equal(
        sequential.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert np.array_equal(
        sequential.decision_function(X), parallel.decision_function(X)
    )


def test_clone_and_persistence(binary_data, tmp_path):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=10, random_state=0).fit(X, y)
    assert not hasattr(clone(clf), "net_")
    assert clone(clf).get_params() == clf.get_params()
    joblib.dump(clf, tmp_path / "clf.joblib")
    for restored in (joblib.load(tmp_path / "clf.joblib"), pickle.loads(pickle.dumps(clf))):
        assert np.array_equal(restored.decision_function(X), clf.decision_function(X))
        restored.partial_fit(X, y)


@requires_cuda
def test_cuda_fit_predicts_numpy_and_pickles_to_cpu(binary_data):
    X, y = binary_data
    params = dict(hidden_dim=16, max_epochs=20, random_state=0)
    gpu = WideTwoLayerNetClassifier(device="cuda", **params).fit(X, y)
    cpu = WideTwoLayerNetClassifier(**params).fit(X, y)
    assert gpu.module_.weight.is_cuda
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(gpu.decision_function(X), cpu.decision_function(X), atol=1e-4)
    # Loading in a process that sees no GPU maps the weights to the CPU.
    payload = pickle.dumps(gpu).hex()
    script = (
        "import pickle, sys, warnings; warnings.simplefilter('ignore');"
        f"clf = pickle.loads(bytes.fromhex('{payload}'));"
        "print(clf.net_.device, clf.module_.weight.device)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""},
    )
    assert result.stdout.split() == ["cpu", "cpu"]


@pytest.mark.parametrize(
    "device, non_deterministic",
    [("cpu", False), ("cpu:0", False), (torch.device("cpu"), False),
     (torch.device("cpu", 0), False), ("cuda", True), (torch.device("cuda:0"), True)],
)
def test_non_deterministic_tag_follows_the_device_type(device, non_deterministic):
    tags = WideTwoLayerNetClassifier(device=device).__sklearn_tags__()
    assert tags.non_deterministic is non_deterministic


def test_bad_sample_weights_raise_clear_errors(binary_data):
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(8, max_epochs=1)
    with pytest.raises(ValueError, match="2 classes with non-zero sample_weight"):
        clf.fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="Negative values .*sample_weight"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="shape"):
        clf.fit(X, y, sample_weight=np.ones(len(y) + 1))


@pytest.mark.parametrize("dataset", ["binary_data", "multiclass_data"])
def test_predict_log_proba_is_stable_log_of_predict_proba(request, dataset):
    X, y = request.getfixturevalue(dataset)
    clf = WideTwoLayerNetClassifier(16, max_epochs=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-10, atol=1e-12
    )
    # Margins in the thousands: probabilities round to 0, their logs do not.
    far = X * 1e4
    assert (clf.predict_proba(far) == 0).any()
    log_proba = clf.predict_log_proba(far)
    assert np.isfinite(log_proba).all()
    assert np.array_equal(log_proba.argmax(1), clf.predict_proba(far).argmax(1))


@pytest.mark.parametrize("device", ["mps", "xla", "meta", "vulkan", "cuda:7", "cuda:99"])
def test_unavailable_devices_raise_the_librarys_error(binary_data, device):
    if torch.device(device).type == "cuda" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the CUDA device")
    with pytest.raises(ValueError, match=f"device='{device}'"):
        WideTwoLayerNetClassifier(max_epochs=1, device=device).fit(*binary_data)



@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    "params, name",
    [
        ({"solver": "lbfgs"}, "solver"),
        ({"solver": None}, "solver"),
        ({"solver": "SGD"}, "solver"),
        ({"hidden_dim": True}, "hidden_dim"),
        ({"max_epochs": False}, "max_epochs"),
        ({"batch_size": True}, "batch_size"),
        ({"lr": True}, "lr"),
    ],
)
def test_parameters_are_validated_before_any_work(binary_data, method, params, name):
    # Validation runs first: before the thread policy sizes the work (a bare
    # KeyError: 'lbfgs' once) and before torch sees a boolean width.
    X, y = binary_data
    clf = WideTwoLayerNetClassifier(**params)
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        getattr(clf, method)(X, y, **kwargs)


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({0: -1.0, 1: 1.0}, "finite numbers of at least 0; got -1.0 for class 0"),
        ({0: float("nan"), 1: 1.0}, "got nan for class 0"),
        ({0: "heavy", 1: 1.0}, "got 'heavy' for class 0"),
        ({0: 0, 1: 0}, "fewer than 2 classes with a positive weight"),
        ({0: 1.0, 7: 2.0}, r"labels \[7\] that are not in classes_"),
    ],
)
def test_unusable_class_weights_are_refused(binary_data, class_weight, match):
    X, y = binary_data
    with pytest.raises(ValueError, match=match):
        WideTwoLayerNetClassifier(8, max_epochs=1, class_weight=class_weight).fit(X, y)


def test_inputs_beyond_float32_are_named_as_such(binary_data):
    # float64 values beyond float32's range would become infinite in the
    # float32 network: fit says so instead of reporting a diverged training.
    X, y = binary_data
    too_large = r"cannot hold X in torch.float32: its largest absolute value 2.4\d*e\+300"
    with pytest.raises(ValueError, match=too_large):
        WideTwoLayerNetClassifier(8, max_epochs=1).fit(X * 1e300, y)


def test_predictions_in_chunks_equal_one_pass(multiclass_data):
    # A working memory of 1 MiB makes chunks of 1 MiB / (2 * width * 4 B)
    # = 64 rows at width 2048: 5 chunks of the 300 rows. They match the
    # module's forward pass over all rows at once.
    X, y = multiclass_data
    X, y = np.tile(X, (2, 1)), np.tile(y, 2)
    clf = WideTwoLayerNetClassifier(2048, max_epochs=2, random_state=0).fit(X, y)
    with torch.no_grad():
        whole = clf.module_(torch.as_tensor(X, dtype=torch.float32)).numpy()
    with sklearn.config_context(working_memory=1):
        chunked = clf.decision_function(X), clf.predict(X)
    np.testing.assert_allclose(chunked[0], whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(chunked[1], clf.classes_[whole.argmax(axis=1)])
