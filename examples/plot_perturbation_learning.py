"""
=============================================
Learning from adversarial perturbations alone
=============================================

The experiment of the paper in its simplest setting, the mean-shifted
Gaussian of sG(a): train a network f on clean data, attack it towards random
target labels, and train a fresh network g on the adversarial examples
alone, labelled with their targets. To a human these labels look like noise,
and the inputs carry no trace of the data (they are the perturbations
themselves), yet g classifies the clean data and agrees with f.

Set ``PERTLEARN_EXAMPLE_QUICK=1`` in the environment for a smoke run at a
fraction of the size.
"""

# %%
# The network f on clean data
# ---------------------------
# The paper's settings: width 100, the identity loss, full-batch SGD with
# momentum 0.9 for 1000 epochs at learning rate 1.
import os

import matplotlib.pyplot as plt
import numpy as np

from sklearn_pertlearn import (
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
)
from sklearn_pertlearn.datasets import make_shifted_gaussian
from sklearn_pertlearn.metrics import agreement_score

QUICK = os.environ.get("PERTLEARN_EXAMPLE_QUICK") == "1"
n_samples, n_epochs, n_seeds = (200, 50, 2) if QUICK else (1000, 1000, 6)

X, y = make_shifted_gaussian(n_samples, 100, random_state=0)
X_test, y_test = make_shifted_gaussian(1000, 100, random_state=1)


def network(seed):
    return WideTwoLayerNetClassifier(
        100,
        slope=0.0,
        loss="identity",
        solver="sgd",
        lr=1.0,
        max_epochs=n_epochs,
        momentum=0.9,
        batch_size=None,
        random_state=seed,
    )


f = network(0).fit(X, y)
print(f"f: accuracy on D {f.score(X, y):.3f}, on test data {f.score(X_test, y_test):.3f}")

# %%
# The adversarial data set
# ------------------------
# Every sample gets a target label drawn at random, independently of its true
# label, and is replaced by the perturbation ``r_n`` that pushes f towards
# that target: an L2 step of length ``epsilon = 0.01`` along the gradient of
# f (scenario a, ``base="none"``). The data set g learns from holds only these
# tiny vectors and their targets.
attack = AdversarialPerturbationTransformer(
    f, epsilon=0.01, base="none", targets="balanced", prefit=True, random_state=0
)
X_adv, y_adv = attack.fit_resample(X, y)
print(f"length of every adversarial example: {np.linalg.norm(X_adv, axis=1).max():.3f}")
print(f"targets that equal the true label: {np.mean(y_adv == y):.2f}")

# %%
# g, trained on the perturbations only
# ------------------------------------
g = network(1).fit(X_adv, y_adv)
scores = {
    "f on D": f.score(X, y),
    "g on D\n(true labels)": g.score(X, y),
    "targets as\nlabels of D": np.mean(y_adv == y),
    "agreement of\nf and g (test)": agreement_score(f.predict(X_test), g.predict(X_test)),
}
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(scores), list(scores.values()), color=["C0", "C1", "C7", "C2"])
ax.axhline(0.5, color="black", linestyle=":", linewidth=1)
ax.set_ylim(0, 1.05)
ax.set_ylabel("fraction")
ax.set_title("g learns f from perturbations with random labels")
fig.tight_layout()

# %%
# The same in one estimator
# -------------------------
# :class:`~sklearn_pertlearn.PerturbationLearningClassifier` runs the three
# steps in ``fit``; its predictions are g's, and f is kept as
# ``source_estimator_``.
model = PerturbationLearningClassifier(
    network(0), epsilon=0.01, base="none", targets="balanced", standardize=False,
    random_state=0,
).fit(X, y)
print(f"g's accuracy on test data: {model.score(X_test, y_test):.3f}")

# %%
# Why balanced targets
# --------------------
# The authors draw every target uniformly at random (``targets="random"``),
# so the numbers of +1 and -1 targets differ by about ``sqrt(N)``. Under the
# identity loss g's biases absorb that imbalance, and when it is large
# enough it swamps what the perturbations teach: g falls to chance.
# ``targets="balanced"`` draws exactly as many targets of each class.
fig, ax = plt.subplots(figsize=(6, 3.5))
for strategy, color in (("random", "C3"), ("balanced", "C0")):
    imbalance, accuracy = [], []
    for seed in range(n_seeds):
        X_adv, y_adv = AdversarialPerturbationTransformer(
            f, epsilon=0.01, targets=strategy, prefit=True, random_state=seed
        ).fit_resample(X, y)
        imbalance.append(y_adv.mean())
        accuracy.append(network(seed + 1).fit(X_adv, y_adv).score(X, y))
    ax.scatter(imbalance, accuracy, color=color, label=f'targets="{strategy}"')
ax.set_xlabel("mean target label (0: balanced)")
ax.set_ylabel("accuracy of g on D")
ax.set_ylim(0.4, 1.05)
ax.legend()
ax.set_title("Random targets: imbalance can bring g to chance")
fig.tight_layout()
plt.show()
