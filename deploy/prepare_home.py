"""Give a learner their own writable copy of the course, next to the shared read-only parts.

    python deploy/prepare_home.py HOME    # what the Kubernetes image runs when a learner's server starts

The hub (``jupyterhub_config.py``) calls ``prepare_home`` before it starts a learner's server. It makes
``HOME/crossroads/`` with:

- ``notebooks/`` and ``labs/``: copied from the course on the first login only, so a learner's edits survive;
- ``build/``: the learner's outputs (``CROSSROADS_BUILD_DIR`` points here);
- ``.cache/``: the learner's model cache (``CROSSROADS_CACHE_DIR`` points here). Each finished artefact of the
  shared cache (the converted LLM, about 520 MB) is a symbolic link into it, so nobody converts the LLM again;
  what a learner makes with other parameters (e.g. part images) lands in their own folder. Lock files stay
  private, so a read-only shared cache works: ``utils.core.models`` opens its lock file for writing.

Python's standard library only: it runs in the hub's process and, in the container, before anything else.
"""

import os
import shutil
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[1]
COPIED = ("notebooks", "labs")
WORK_FOLDER = "crossroads"
PRIVATE_SUFFIXES = (".lock", ".partial", ".tmp")


def link_shared_cache(shared: Path, own: Path) -> list[Path]:
    """Link every finished folder of ``shared`` (one that holds files) into ``own``; folders that only hold
    folders (such as ``parts/``) are made for real, so new entries can be added beside the links."""
    made = []
    own.mkdir(parents=True, exist_ok=True)
    if not shared.is_dir():
        return made
    for entry in sorted(shared.iterdir()):
        target = own / entry.name
        if entry.name.endswith(PRIVATE_SUFFIXES) or not entry.is_dir() or os.path.lexists(target):
            continue
        if any(child.is_file() for child in entry.iterdir()):
            target.symlink_to(entry, target_is_directory=True)
            made.append(target)
        else:
            made.extend(link_shared_cache(entry, target))
    return made


def prepare_home(home: Path, shared_cache: Path, course: Path = COURSE_ROOT,
                 owner: tuple[int, int] | None = None) -> Path:
    """Make ``home/crossroads`` (see the module docstring); return it. ``owner`` (uid, gid): hand what was made
    to the learner, for a hub that runs as root and starts servers as system users."""
    work = Path(home) / WORK_FOLDER
    made = []
    for name in COPIED:
        if not (work / name).exists():
            shutil.copytree(course / name, work / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            made.append(work / name)
    for name in ("build", ".cache"):
        if not (work / name).exists():
            (work / name).mkdir(parents=True)
            made.append(work / name)
    link_shared_cache(Path(shared_cache), work / ".cache")
    if owner is not None:  # links and folders made on a later login, too (never following a link)
        for top in (Path(home), work, *made, work / ".cache"):
            _chown_tree(top, *owner, recursive=top in made or top.name == ".cache")
    return work


def _chown_tree(path: Path, uid: int, gid: int, recursive: bool) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    if recursive and path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python deploy/prepare_home.py HOME  (CROSSROADS_SHARED_CACHE: the shared model cache)")
    shared = os.environ.get("CROSSROADS_SHARED_CACHE", str(COURSE_ROOT / ".cache"))
    print(prepare_home(Path(sys.argv[1]), Path(shared)))
