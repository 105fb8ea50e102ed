"""
=====================================================
Imbalanced data: g learns f's ranking, not its offset
=====================================================

Real classification data are rarely balanced. Here scikit-learn's
breast_cancer set keeps all its benign tumours and only one malignant tumour
in sixteen (6 % of the rows). f learns the task; g, trained on perturbations
labelled with balanced random targets, learns to order the tumours as f
does, but its threshold comes from those balanced targets: without help it
calls more than a third of the benign tumours malignant (accuracy 0.58
against f's 1.00).
``PerturbationLearningClassifier(match_rates=True)``, the default, moves g's
threshold so that on the training rows it predicts each class as often as f
does; ``match_rates=False`` is the paper's procedure.

Set ``PERTLEARN_EXAMPLE_QUICK=1`` in the environment for a smoke run at a
fraction of the size.
"""

# %%
# f, and g with and without the shift
# ------------------------------------
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_pertlearn import PerturbationLearningClassifier, WideTwoLayerNetClassifier
from sklearn_pertlearn.metrics import agreement_score

QUICK = os.environ.get("PERTLEARN_EXAMPLE_QUICK") == "1"

X, y = load_breast_cancer(return_X_y=True)  # 0 is malignant, 1 benign
rng = np.random.RandomState(0)
malignant = np.flatnonzero(y == 0)
keep = np.concatenate([np.flatnonzero(y == 1), rng.choice(malignant, 23, replace=False)])
X, y = X[keep], y[keep]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(f"malignant tumours: {np.mean(y == 0):.1%} of {len(y)}")

# The smoke run swaps the default f and g (width 1000, 200 epochs) for small ones.
params = {"estimator": WideTwoLayerNetClassifier(100, solver="sgd", max_epochs=50)} if QUICK else {}
shifted = PerturbationLearningClassifier(random_state=0, **params)
paper = clone(shifted).set_params(match_rates=False)
for model in (shifted, paper):
    # Without the shift g agrees with f little, and the fit says so.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)

f = shifted.source_estimator_
print(f"f: accuracy {f.score(X_test, y_test):.3f}")
for name, model in (("without the shift", paper), ("match_rates=True", shifted)):
    agreement = agreement_score(f.predict(X_test), model.predict(X_test))
    print(
        f"g {name:>17}: accuracy {model.score(X_test, y_test):.3f}, "
        f"agreement with f {agreement:.3f}, kappa on the training rows "
        f"{model.agreement_kappa_:.2f}, ranking agreement {model.ranking_agreement_:.3f}"
    )
print(f"the shift of g's margin: {shifted.offsets_[1] - shifted.offsets_[0]:+.3f}")

# %%
# The same margins, two thresholds
# --------------------------------
# g's margin on the test tumours, by the class f gives them. The two classes
# are apart (the ranking survives), but the paper's threshold, 0, cuts into
# the benign tumours; the shifted threshold sits where f's rates put it.
margin = paper.decision_function(X_test)
f_says = f.predict(X_test)
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(margin.min(), margin.max(), 40)
ax.hist(margin[f_says == 1], bins, alpha=0.6, label="f says benign")
ax.hist(margin[f_says == 0], bins, alpha=0.6, label="f says malignant")
ax.axvline(0.0, color="k", linestyle=":", label="g's threshold without the shift")
threshold = shifted.offsets_[0] - shifted.offsets_[1]
ax.axvline(threshold, color="k", label="g's threshold with match_rates")
ax.set_xlabel("g's margin (positive: benign)")
ax.set_ylabel("test tumours")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
