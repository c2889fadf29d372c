"""The output folder of ``bayeshier run``: written aside, moved into place only when complete.

A run writes into a fresh temporary folder ``.bayeshier-XXXX`` next to
``--out`` (in the same parent, hence on the same file system) and moves it into
place only when every file is written. Until then ``--out`` is not touched: a
run that fails or is interrupted removes its temporary folder and leaves an
earlier output exactly as it was.

Decisions:

- ``--out`` may be absent, an empty folder, or a folder an earlier run wrote
  (it holds the manifest, see :mod:`bayeshier.cli.manifest`). Anything else is
  refused before sampling, with exit status 2: a folder of files bayeshier did
  not write (a run never merges into someone's folder), a file, or a symbolic
  link (links are not followed: give the real folder).
- Replacing an earlier output: the old folder is moved aside
  (``.bayeshier-old-XXXX``), the new one moved in; then whatever bayeshier did
  not write in the old folder (files not in its manifest, or changed since) is
  moved into the new one, the unchanged files of the manifest are deleted, and
  the emptied folders removed. Should a kept file be in the way of a new one,
  the old folder stays, with only such files in it, and a note names it.
- Folders are walked without following links; a link is moved as a link.
- Parent folders of ``--out`` that the run created are removed again when it
  fails.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bayeshier.cli import interrupts, manifest
from bayeshier.errors import BayeshierError

__all__ = ["OutputError", "Staging", "Target", "check_target", "safe_child", "staged_output"]

#: What ``--out`` is before a run: absent, an empty folder, or an earlier output of bayeshier.
Target = Literal["absent", "empty", "ours"]


class OutputError(BayeshierError):
    """``--out`` cannot take a run's output (a link, a file, a folder of other files)."""


def check_target(out: Path) -> Target:
    """What ``out`` is now: ``"absent"``, ``"empty"`` or ``"ours"``; else an :class:`OutputError`.

    Parameters
    ----------
    out : pathlib.Path
        The output folder (``--out``).

    Returns
    -------
    {"absent", "empty", "ours"}

    Raises
    ------
    OutputError
        ``out`` is a symbolic link, not a folder, the file system's root, or
        a folder holding files bayeshier did not write.

    """
    if out.parent == out:
        raise OutputError(f"--out {str(out)!r} is the file system's root: choose a folder in it.")
    try:
        mode = os.lstat(out).st_mode
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(mode):
        raise OutputError(
            f"--out {str(out)!r} is a symbolic link (to {os.readlink(out)!r}); bayeshier "
            "does not write through links: give the folder it points to as --out."
        )
    if not stat.S_ISDIR(mode):
        raise OutputError(f"--out {str(out)!r} is a file, not a folder: choose another --out.")
    if manifest.read(out) is not None:
        return "ours"
    with os.scandir(out) as entries:
        first = next(iter(sorted(entry.name for entry in entries)), None)
    if first is None:
        return "empty"
    raise OutputError(
        f"--out {str(out)!r} holds files bayeshier did not write (e.g. {first!r}) and no "
        f"{manifest.MANIFEST_NAME}, so a run would mix its output with them: choose another "
        "--out or empty that folder."
    )


def safe_child(folder: Path, name: str) -> Path:
    """``folder/name`` for a single, plain name (no separator, no leading dot); else ValueError."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or os.sep in name:
        raise ValueError(f"{name!r} is not a plain file name; it cannot name an output file")
    return folder / name


@dataclass
class Staging:
    """A run's temporary folder, and where it goes when complete.

    Attributes
    ----------
    out : pathlib.Path
        The output folder (absolute, links in it not resolved).
    folder : pathlib.Path
        The temporary folder the run writes into.
    target : {"absent", "empty", "ours"}
        What ``out`` was when the run started.
    notes : list of str
        What publishing had to say (an old folder kept, an interrupt that came late).

    """

    out: Path
    folder: Path
    target: Target
    created: list[Path] = field(default_factory=list)
    published: bool = False
    notes: list[str] = field(default_factory=list)

    def kept(self) -> str:
        """What a failed or interrupted run leaves: ``"<out> is unchanged"`` or not created."""
        if self.target == "absent":
            return f"{self.out} was not created"
        return f"{self.out} is unchanged"

    def publish(self) -> None:
        """Record the manifest and move the folder into place (see the module's notes)."""
        manifest.record(self.folder).save(self.folder)
        os.chmod(self.folder, _folder_mode(self.out))
        with interrupts.deferred():
            aside = _swap(self.folder, self.out)
            self.published = True
            if aside is not None:
                self.notes += _retire(aside, self.out)
        if interrupts.received():
            self.notes.append(f"Ctrl-C came as the output was complete: {self.out} holds it")


@contextmanager
def staged_output(out: Path) -> Iterator[Staging]:
    """A temporary folder next to ``out``; removed on leaving unless :meth:`Staging.publish` ran.

    Parameters
    ----------
    out : pathlib.Path
        The output folder; checked with :func:`check_target` first.

    Yields
    ------
    Staging

    Raises
    ------
    OutputError
        ``out`` cannot take the output.
    OSError
        The temporary folder cannot be created (its message names the folder).

    """
    out = Path(os.path.abspath(out))
    target = check_target(out)
    created = _make_parents(out.parent)
    try:
        folder = Path(tempfile.mkdtemp(prefix=".bayeshier-", dir=out.parent))
    except OSError as error:
        _remove_empty(created)
        raise OSError(
            f"cannot create a temporary folder in {str(out.parent)!r}, the folder that holds "
            f"--out ({error.strerror}): choose an --out in a folder you can write to."
        ) from None
    staging = Staging(out, folder, target, created)
    try:
        yield staging
    finally:
        if not staging.published:
            shutil.rmtree(folder, ignore_errors=True)
            _remove_empty(created)


# ============================================================== helpers
def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return those created, deepest last."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders a failed run created, deepest first, while they are empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def _folder_mode(out: Path) -> int:
    """The earlier output's permissions, else a new folder's (``mkdtemp`` makes it 0o700)."""
    try:
        return stat.S_IMODE(os.lstat(out).st_mode)
    except FileNotFoundError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o777 & ~mask


def _swap(folder: Path, out: Path) -> Path | None:
    """Move ``folder`` to ``out``; return where the earlier output went, if there was one."""
    target = check_target(out)  # again: it may have changed during the run
    if target == "absent":
        os.rename(folder, out)
        return None
    if target == "empty":
        out.rmdir()
        os.rename(folder, out)
        return None
    aside = Path(tempfile.mkdtemp(prefix=".bayeshier-old-", dir=out.parent))
    aside.rmdir()
    os.rename(out, aside)
    try:
        os.rename(folder, out)
    except OSError:
        os.rename(aside, out)
        raise
    return aside


def _retire(aside: Path, out: Path) -> list[str]:
    """Keep what bayeshier did not write in the old output, delete the rest; return notes."""
    old = manifest.read(aside)
    if old is None:  # it had one a moment ago: keep the whole folder
        return [f"kept the previous output in {aside}: its manifest could not be read"]
    entries = list(manifest.walk(aside))
    ours = {manifest.MANIFEST_NAME}
    ours.update(relative for relative, _ in entries if old.unchanged(aside, relative))
    for relative, entry in entries:
        if relative in ours or not os.path.lexists(entry.path):
            continue  # bayeshier's, or already moved with its folder
        if entry.is_dir(follow_symlinks=False) and (
            relative in old.dirs or _is_real_dir(out / relative)
        ):
            continue  # a folder of bayeshier's, or one the new output has too: walk inside
        if not os.path.lexists(out / relative) and _make_dirs(out, relative):
            os.rename(entry.path, out / relative)
    _delete(aside, entries, ours)
    return _left_over(aside)


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _make_dirs(out: Path, relative: str) -> bool:
    """Create the folders ``out/relative`` goes in; False if a link or a file is in the way."""
    folder = out
    for part in relative.split("/")[:-1]:
        folder = folder / part
        if not os.path.lexists(folder):
            folder.mkdir()
        elif not _is_real_dir(folder):
            return False
    return True


def _delete(aside: Path, entries: list[tuple[str, os.DirEntry[str]]], ours: set[str]) -> None:
    """Delete bayeshier's unchanged files (``ours``), then every emptied folder, deepest first."""
    for relative, entry in entries:
        if relative in ours:
            os.unlink(entry.path)
    for _, entry in reversed(entries):  # children before their folder
        if entry.is_dir(follow_symlinks=False):
            _rmdir_if_empty(Path(entry.path))
    _rmdir_if_empty(aside)


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _left_over(aside: Path) -> list[str]:
    """A note naming the old folder when something had to stay in it."""
    if not os.path.lexists(aside):
        return []
    left = [
        relative
        for relative, entry in manifest.walk(aside)
        if not entry.is_dir(follow_symlinks=False)
    ]
    shown = ", ".join(left[:5]) + (", ..." if len(left) > 5 else "")
    return [
        f"kept {len(left)} file(s) of the previous output that bayeshier did not write "
        f"(or that changed since) where the new output has files of the same name: {aside} "
        f"holds them ({shown})"
    ]
