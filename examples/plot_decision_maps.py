"""
=============
Decision maps
=============

The authors' decision maps: the plane spanned by the means of the two
classes, coloured where f and g agree. Beside them the zero lines of the
lazy-regime predictors of theorems 3.4 and 3.5, ``hat_f`` (solid red) and
``hat_g`` (dashed black): where the theory says the two boundaries lie. The
runs are those of the authors' map scripts for the mean-shifted Gaussian,
scenario a (perturbations alone) and scenario b (perturbed data).

Set ``PERTLEARN_EXAMPLE_QUICK=1`` in the environment for a smoke run at a
fraction of the size.
"""

# %%
# Two runs and their maps
# -----------------------
# :func:`~sklearn_pertlearn.experiments.run_decision_map` fits f and g as the
# preset's map configuration says and evaluates both networks, ``hat_f`` and
# ``hat_g`` on a square grid of the plane
# (:func:`~sklearn_pertlearn.theory.decision_map`).
import os

import matplotlib.pyplot as plt

from sklearn_pertlearn.experiments import PRESETS, run_decision_map
from sklearn_pertlearn.plotting import plot_decision_map

QUICK = os.environ.get("PERTLEARN_EXAMPLE_QUICK") == "1"
resolution = 40 if QUICK else 200

fig, axes = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained")
for ax, name in zip(axes, ("sG-a", "sG-b")):
    preset = PRESETS[name].quick() if QUICK else PRESETS[name]
    result, dmap = run_decision_map(
        preset.map_config, limits=preset.map_limits, resolution=resolution
    )
    plot_decision_map(dmap, ax=ax, legend=ax is axes[0])
    ax.set_title(
        f"{preset.description}\nagreement on test data {result['agreement']:.3f}",
        fontsize="medium",
    )
    print(f"{name}: f on D {result['f_train_accuracy']:.3f}, "
          f"g on D {result['g_train_accuracy']:.3f}, agreement {result['agreement']:.3f}")
plt.show()

# %%
# On this plane f and g agree almost everywhere, and the zero lines of
# ``hat_f`` and ``hat_g`` lie on their common boundary: the lazy-regime theory
# predicts where the trained networks decide. The test points on which f and
# g disagree in scenario b lie off the plane, in the other 98 dimensions.
