"""Sphinx configuration of the sklearn-pertlearn documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sklearn_pertlearn  # noqa: E402

project = "sklearn-pertlearn"
author = "The sklearn-pertlearn developers"
copyright = "2026, The sklearn-pertlearn developers"
version = release = sklearn_pertlearn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "sg_execution_times.rst"]
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-pertlearn {version}"
html_theme_options = {"navigation_with_keys": False}

# No network here: cross-references to other projects are resolved only when
# their inventories are reachable, and never fail the build.
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {"sklearn_pertlearn": None},
}


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods for metadata routing; their
    # docstrings cross-reference scikit-learn's own glossary.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
