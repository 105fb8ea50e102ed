"""Installation script for sklearn-pertlearn."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "sklearn_pertlearn" / "__init__.py").read_text(),
    re.MULTILINE,
).group(1)

EXTRAS = {
    "plot": ["matplotlib>=3.7"],
    "progress": ["tqdm>=4.60"],
    "distributed": ["dask[distributed]>=2023.1"],
    "imbalanced": ["imbalanced-learn>=0.12"],
    "examples": ["matplotlib>=3.7", "pandas>=1.5"],
    "docs": [
        "sphinx>=7",
        "numpydoc>=1.6",
        "pydata-sphinx-theme>=0.15",
        "sphinx-gallery>=0.15",
        "matplotlib>=3.7",
        "pandas>=1.5",
    ],
    "test": [
        "pytest>=7",
        "pandas>=1.5",
        "matplotlib>=3.7",
        "imbalanced-learn>=0.12",
        "dask[distributed]>=2023.1",
    ],
}

setup(
    name="sklearn-pertlearn",
    version=VERSION,
    description=(
        "Learning from adversarial perturbations with wide two-layer networks, "
        "as scikit-learn estimators."
    ),
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["sklearn_pertlearn", "sklearn_pertlearn.*"]),
    install_requires=[
        "numpy>=1.22",
        "scikit-learn>=1.6",
        "torch>=2.1",
        "skorch>=1.0",
        "joblib>=1.2",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["pertlearn=sklearn_pertlearn.__main__:main"]},
    classifiers=[
        "Intended Audience :: Science/Research",
        "License :: OSI Approved :: BSD License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
