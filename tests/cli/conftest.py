"""Fixtures of the cli/ tests: running the command line in process on bad input."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bayeshier.cli import manifest
from bayeshier.cli.main import main


@pytest.fixture
def bad_input(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    """Run ``bayeshier <argv>``, expect exit status 2 and no traceback; return stderr."""

    def run(argv: list[str]) -> str:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    return run


def _checksums(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (links not followed): a file's SHA-256, a link's target."""
    found = {}
    for relative, entry in manifest.walk(root):
        if entry.is_symlink():
            found[relative] = "link -> " + os.readlink(entry.path)
        elif entry.is_file(follow_symlinks=False):
            found[relative] = hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()
        else:
            found[relative] = "dir"
    return found


@pytest.fixture
def checksums() -> Callable[[Path], dict[str, str]]:
    """Checksums of everything in a folder, to compare a folder byte for byte before and after."""
    return _checksums
