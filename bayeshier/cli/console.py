"""What ``bayeshier`` says on stderr: progress, notes, warnings and errors.

Every line starts with ``bayeshier:`` so that it stands apart from the tables
printed on stdout. Progress lines are flushed at once: they report a long run
as it goes.
"""

from __future__ import annotations

import sys

__all__ = ["error", "note", "progress", "warning"]


def progress(message: str) -> None:
    """Print ``bayeshier: <message>`` on stderr and flush it."""
    print(f"bayeshier: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """Print ``bayeshier: note: <message>`` on stderr (another library's warning)."""
    print(f"bayeshier: note: {message}", file=sys.stderr)


def warning(message: str) -> None:
    """Print ``bayeshier: warning: <message>`` on stderr."""
    print(f"bayeshier: warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    """Print ``bayeshier: error: <message>`` on stderr (the command then exits non-zero)."""
    print(f"bayeshier: error: {message}", file=sys.stderr)
