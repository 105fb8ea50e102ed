"""
=================================================
Ten classes from perturbations: the digits, raw
=================================================

Perturbation learning with the defaults of
:class:`~sklearn_pertlearn.PerturbationLearningClassifier` on real data that
nobody prepared for it: scikit-learn's 8 x 8 digits, all ten classes, raw pixel
values from 0 to 16. The defaults standardize the features, choose the radius
of the perturbations from the data (``epsilon="auto"``) and train f and g as
the paper does, at width 1000. g never sees a digit: only perturbations, each
labelled with a random target class.

Set ``PERTLEARN_EXAMPLE_QUICK=1`` in the environment for a smoke run at a
fraction of the size.
"""

# %%
# f, g and their agreement
# ------------------------
import os
from tempfile import TemporaryDirectory

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_pertlearn import PerturbationLearningClassifier, WideTwoLayerNetClassifier
from sklearn_pertlearn.metrics import agreement_scorer

QUICK = os.environ.get("PERTLEARN_EXAMPLE_QUICK") == "1"

X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[:400], y[:400]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
# The smoke run swaps the default f and g (width 1000, 200 epochs) for small ones.
small = WideTwoLayerNetClassifier(100, solver="sgd", max_epochs=50)
params = {"estimator": small} if QUICK else {}
model = PerturbationLearningClassifier(store_adversarial=True, random_state=0, **params)
model.fit(X_train, y_train)

f = model.source_estimator_
print(f"epsilon chosen by 'auto': {model.epsilon_:.2f} (in standard deviations)")
print(f"f, trained on the digits:       accuracy {f.score(X_test, y_test):.3f}")
print(f"g, trained on perturbations:    accuracy {model.score(X_test, y_test):.3f}")
print(f"agreement of f and g:           {agreement_scorer(model, X_test):.3f}")

# %%
# What g was trained on
# ---------------------
# In scenario a, g's inputs are the perturbations alone. With standardized
# features they sit on the mean image (``X_adv_`` is in pixel units), so each
# picture below is the mean digit plus one perturbation, and the title is the
# label g was told: a target drawn at random, unrelated to the digit that was
# attacked (top row).
fig, axes = plt.subplots(2, 6, figsize=(8, 3))
for column in range(6):
    axes[0, column].imshow(X_train[column].reshape(8, 8), cmap="gray_r")
    axes[0, column].set_title(f"digit {y_train[column]}", fontsize=9)
    axes[1, column].imshow(model.X_adv_[column].reshape(8, 8), cmap="gray_r")
    axes[1, column].set_title(f"label {model.y_adv_[column]}", fontsize=9)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Attacked digits (top) and what g learned from (bottom)")
plt.tight_layout()

# %%
# How the radius matters
# ----------------------
# ``epsilon_`` is 0.3 times the median norm of the standardized rows. Far
# smaller radii leave g too little signal; around the default the accuracy
# is flat. f is fitted once: ``memory`` caches it across the radii.
factors = [0.03, 1.0] if QUICK else [0.01, 0.1, 1.0]
auto = model.epsilon_
radii, accuracies = [auto], [model.score(X_test, y_test)]
with TemporaryDirectory() as cache:
    for factor in factors:
        radii.append(factor / 0.3 * auto)
        other = PerturbationLearningClassifier(
            epsilon=radii[-1], memory=cache, random_state=0, **params
        )
        accuracies.append(other.fit(X_train, y_train).score(X_test, y_test))
order = np.argsort(radii)

fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogx(np.array(radii)[order], np.array(accuracies)[order], "o-", label="g")
ax.axhline(f.score(X_test, y_test), color="gray", linestyle="--", label="f")
ax.axvline(auto, color="C1", linestyle=":", label='epsilon="auto"')
ax.set_xlabel("epsilon (standard deviations)")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1.02)
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()
