"""Where things live. Every other module asks here instead of guessing relative paths.

The build and cache folders can be moved with environment variables, which is how the
tests keep their smoke runs out of the learner's ``build/`` folder.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASETS_DIR = REPO_ROOT / "datasets"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
SOLUTIONS_DIR = REPO_ROOT / "solutions"
LABS_DIR = REPO_ROOT / "labs"


def build_dir() -> Path:
    """Folder for executed notebooks, results, figures and the report (``CROSSROADS_BUILD_DIR``)."""
    return Path(os.environ.get("CROSSROADS_BUILD_DIR", REPO_ROOT / "build"))


def cache_dir() -> Path:
    """Folder for converted models and other slow-to-make artefacts (``CROSSROADS_CACHE_DIR``).

    It lives outside ``build/`` on purpose: ``make clean`` should not throw away a
    26-second model conversion.
    """
    return Path(os.environ.get("CROSSROADS_CACHE_DIR", REPO_ROOT / ".cache"))
