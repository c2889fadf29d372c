"""The manifest of an output folder: every file ``bayeshier run`` wrote there, with size and hash.

A finished output folder holds ``.bayeshier-manifest.json``. It marks the
folder as bayeshier's (a later run may replace it) and lists what bayeshier
wrote, so that a later run deletes only those files, and only while they are
unchanged: a file that is not listed, or that changed since, is someone
else's (see :mod:`bayeshier.cli.output_folder`).

Paths are relative, ``/``-separated, checked to stay inside the folder.
Folders are walked without following symbolic links, and a link is never
taken for a file bayeshier wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MANIFEST_NAME", "FileRecord", "Manifest", "read", "record", "sha256_of", "walk"]

#: The manifest's file name, at the top of an output folder.
MANIFEST_NAME = ".bayeshier-manifest.json"
_FORMAT = "bayeshier-output/1"


@dataclass(frozen=True)
class FileRecord:
    """Size (bytes) and SHA-256 (hex) of a file as bayeshier wrote it."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The files and folders bayeshier wrote in an output folder (relative ``/`` paths)."""

    files: dict[str, FileRecord]
    dirs: frozenset[str]

    def unchanged(self, root: Path, relative: str) -> bool:
        """Whether ``root/relative`` is a listed file, still a regular file of the same bytes."""
        listed = self.files.get(relative)
        if listed is None:
            return False
        path = root / relative
        try:
            info = os.lstat(path)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != listed.size:
            return False
        return sha256_of(path) == listed.sha256

    def save(self, folder: Path) -> None:
        """Write the manifest as ``folder/.bayeshier-manifest.json``."""
        from bayeshier import __version__

        content = {
            "format": _FORMAT,
            "written_by": f"bayeshier {__version__}",
            "files": {
                name: {"size": entry.size, "sha256": entry.sha256}
                for name, entry in sorted(self.files.items())
            },
            "dirs": sorted(self.dirs),
        }
        (folder / MANIFEST_NAME).write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def sha256_of(path: Path) -> str | None:
    """SHA-256 of a regular file (a symbolic link is not opened); ``None`` if it cannot be read."""
    digest = hashlib.sha256()
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def walk(root: Path, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry under ``root`` as (relative path, entry), parents first; links not followed."""
    with os.scandir(root) as entries:
        listing = sorted(entries, key=lambda entry: entry.name)
    for entry in listing:
        relative = f"{prefix}{entry.name}"
        yield relative, entry
        if entry.is_dir(follow_symlinks=False):
            yield from walk(Path(entry.path), f"{relative}/")


def record(folder: Path) -> Manifest:
    """The manifest of everything in ``folder`` (bayeshier's staging folder, before it is moved).

    Raises
    ------
    OSError
        A file cannot be read, or ``folder`` holds something other than files
        and folders (bayeshier writes no links).

    """
    files, dirs = {}, set()
    for relative, entry in walk(folder):
        if entry.is_dir(follow_symlinks=False):
            dirs.add(relative)
        elif entry.is_file(follow_symlinks=False):
            digest = sha256_of(Path(entry.path))
            if digest is None:
                raise OSError(f"cannot read {entry.path!r} to record it in the manifest")
            files[relative] = FileRecord(entry.stat(follow_symlinks=False).st_size, digest)
        else:
            raise OSError(f"{entry.path!r} is neither a file nor a folder (a link?)")
    return Manifest(files, frozenset(dirs))


def read(folder: Path) -> Manifest | None:
    """The manifest of ``folder``, or ``None`` when it has none or it is not a valid one.

    A manifest that is a link, is not JSON, or lists a path leading outside
    ``folder`` (absolute, or with a ``..``) is not valid: the folder is then
    not taken for bayeshier's.
    """
    path = folder / MANIFEST_NAME
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
        files = {
            str(name): FileRecord(int(entry["size"]), str(entry["sha256"]))
            for name, entry in content["files"].items()
        }
        dirs = frozenset(str(name) for name in content["dirs"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if content.get("format") != _FORMAT or not all(map(_inside, [*files, *dirs])):
        return None
    return Manifest(files, dirs)


def _inside(relative: str) -> bool:
    """Whether a manifest path names something inside the folder."""
    parts = relative.split("/")
    return bool(relative) and all(
        part not in ("", ".", "..") and "\\" not in part for part in parts
    )
