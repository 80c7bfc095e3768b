"""Where the benches find their data: ``shared/`` beside the checkout (``<repo>/../shared``), never a path on one
particular machine; and the one clear message (SystemExit, no traceback) when a file is not there.

Looked for, in this order: ``<repo>/../shared``; ``<repo>/shared`` (a checkout that carries its own copy); for a
git worktree, ``shared/`` beside the main checkout. ``--shared DIR`` (every bench that reads it) or ``--data PATH``
(benches that read one file or one folder) point elsewhere.

Imported by the benches as ``from _shared import ...`` (``python bench/NAME.py`` puts bench/ on sys.path); it
imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # the default: shared/ beside the checkout


def candidates() -> list[Path]:
    """The folders tried as ``shared/``, in order (duplicates dropped)."""
    found = [SHARED, REPO / "shared"]
    main = _main_checkout(REPO)
    if main is not None:
        found.append(main.parent / "shared")
    unique: list[Path] = []
    for folder in found:
        if folder not in unique:
            unique.append(folder)
    return unique


def shared_dir(override: Path | str | None = None) -> Path:
    """``override`` when given, else the first existing candidate; ``SHARED`` when there is none (what a missing
    file's message then names)."""
    if override is not None:
        return Path(override).expanduser()
    return next((folder for folder in candidates() if folder.is_dir()), SHARED)


def shared_path(*parts: str, shared: Path | str | None = None) -> Path:
    """``shared/<parts>``: e.g. ``shared_path("data", "msu", "msu_cs_106.json")``."""
    return shared_dir(shared).joinpath(*parts)


def relocate(path: Path | str, shared: Path | str | None = None) -> Path:
    """A path under the default ``<repo>/../shared`` (as the example configs name their data), moved under the
    shared folder actually used; any other path as it is."""
    path = Path(os.path.abspath(path))
    try:
        relative = path.relative_to(Path(os.path.abspath(SHARED)))
    except ValueError:
        return path
    return shared_dir(shared) / relative


def require(path: Path | str, flag: str = "--data PATH", what: str = "data file") -> Path:
    """``path`` when it exists; otherwise exit with a message naming it, where shared/ was looked for, and the flag
    that points elsewhere."""
    path = Path(path)
    if path.exists():
        return path
    folders = candidates()
    absolute = Path(os.path.abspath(path))
    if any(absolute.is_relative_to(os.path.abspath(folder)) for folder in folders):
        looked = ", ".join(str(folder) for folder in folders)
        hint = f"This bench reads shared/ beside the checkout (looked in: {looked}); pass {flag} to use another one."
    else:
        hint = f"Pass {flag} naming one that exists (the default is under shared/ beside the checkout: {SHARED})."
    raise SystemExit(f"{what} not found: {path}\n{hint}")


def add_shared_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shared",
        type=Path,
        default=None,
        help=f"the shared/ folder holding data/ (default: {SHARED}, beside the checkout)",
    )


def _main_checkout(repo: Path) -> Path | None:
    """For a git worktree (``.git`` is a file ``gitdir: <main>/.git/worktrees/<name>``), the main checkout."""
    marker = repo / ".git"
    if not marker.is_file():
        return None
    try:
        line = marker.read_text().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    gitdir = Path(line.removeprefix("gitdir:").strip())
    if not gitdir.is_absolute():
        gitdir = (repo / gitdir).resolve()
    if gitdir.parent.name != "worktrees" or gitdir.parent.parent.name != ".git":
        return None
    return gitdir.parent.parent.parent
