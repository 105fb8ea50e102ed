"""
==============================================
Searching width and epsilon with GridSearchCV
==============================================

:class:`~sklearn_pertlearn.PerturbationLearningClassifier` is an ordinary
scikit-learn classifier, so the usual tools search its settings. Here
:class:`~sklearn.model_selection.GridSearchCV` crosses the width of the
networks with the size of the perturbation and scores every candidate twice
on the held-out folds: g's accuracy against the true labels, and the
agreement of f and g (:func:`~sklearn_pertlearn.metrics.agreement_scorer`).
With ``memory``, f is fitted once per width and fold and reused for every
epsilon, since the attack does not change it.

Set ``PERTLEARN_EXAMPLE_QUICK=1`` in the environment for a smoke run at a
fraction of the size.
"""

# %%
# The search
# ----------
import os
from tempfile import TemporaryDirectory

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from sklearn_pertlearn import PerturbationLearningClassifier, WideTwoLayerNetClassifier
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_scorer

QUICK = os.environ.get("PERTLEARN_EXAMPLE_QUICK") == "1"
n_samples, n_epochs, n_jobs = (120, 30, 1) if QUICK else (600, 300, 2)
widths = [10, 100] if QUICK else [10, 100, 1000]
epsilons = [0.0, 0.01] if QUICK else [0.0, 0.003, 0.01, 0.1]

X, y = make_shifted_gaussian(n_samples, 100, random_state=0)
network = WideTwoLayerNetClassifier(
    100, loss="identity", solver="sgd", lr=1.0, max_epochs=n_epochs, momentum=0.9,
    batch_size=None,
)
with TemporaryDirectory() as cache:
    search = GridSearchCV(
        PerturbationLearningClassifier(
            network, standardize=False, memory=cache, random_state=0
        ),
        {"estimator__hidden_dim": widths, "epsilon": epsilons},
        scoring={"accuracy": "accuracy", "agreement": agreement_scorer},
        refit="accuracy",
        cv=3,
        n_jobs=n_jobs,
    ).fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# Accuracy and agreement over the grid
# ------------------------------------
# With ``epsilon = 0`` g sees only zero vectors and learns nothing of the
# task, the built-in control: it keeps the accuracy of its random
# initialisation, near chance. As soon as the perturbations carry f's
# gradient, g learns the task, with smaller perturbations the wider the
# networks.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for ax, score in zip(axes, ("accuracy", "agreement")):
    grid = np.empty((len(widths), len(epsilons)))
    for params, value in zip(search.cv_results_["params"],
                             search.cv_results_[f"mean_test_{score}"]):
        grid[widths.index(params["estimator__hidden_dim"]),
             epsilons.index(params["epsilon"])] = value
    image = ax.imshow(grid, vmin=0.4, vmax=1.0, cmap="viridis")
    for (row, column), value in np.ndenumerate(grid):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", color="white")
    ax.set_xticks(range(len(epsilons)), epsilons)
    ax.set_yticks(range(len(widths)), widths)
    ax.set_xlabel("epsilon")
    ax.set_ylabel("width m")
    ax.set_title("g's accuracy" if score == "accuracy" else "agreement of f and g")
fig.colorbar(image, ax=axes, shrink=0.8)
plt.show()
