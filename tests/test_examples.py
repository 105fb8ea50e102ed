"""Every example of the gallery runs, at the reduced size of its smoke mode.

The examples read ``PERTLEARN_EXAMPLE_QUICK=1`` and shrink their data,
widths and epochs; at full size each takes up to two minutes.
"""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


def test_the_gallery_has_its_examples():
    names = {path.stem for path in EXAMPLES}
    assert {
        "plot_perturbation_learning",
        "plot_width_sweep",
        "plot_grid_search",
        "plot_decision_maps",
        "plot_cosine_similarity",
        "plot_digits",
        "plot_multiclass_real_data",
        "plot_imbalanced",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_at_reduced_size(path, monkeypatch, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setenv("PERTLEARN_EXAMPLE_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    # Agg cannot show a window; plt.show would only warn.
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    try:
        runpy.run_path(str(path), run_name="__main__")
        assert plt.get_fignums(), f"{path.name} drew no figure"
    finally:
        plt.close("all")
