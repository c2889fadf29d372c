"""Ctrl-C during ``bayeshier run``: SIGINT raises, is remembered, and can wait out a critical step.

:func:`sigint_raises` (entered by :func:`bayeshier.cli.main.main`) makes
SIGINT raise :class:`KeyboardInterrupt` even when the process started with
SIGINT ignored (a command started with ``&`` from a script inherits that), and
remembers that it came: a sampler that catches the interrupt and returns the
draws made so far (nutpie does) is still seen as interrupted
(:func:`received`). Inside :func:`deferred` (moving a finished output into
place) a SIGINT is only remembered, so the move is never cut in half.

:class:`Interrupted` carries the sentence the command line prints before it
exits with status 130: what was interrupted, and what was kept.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from bayeshier.bayes.interrupt import was_interrupted

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Interrupted", "deferred", "is_interrupted_tree", "received", "sigint_raises"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or an interrupted sample) stopped a run; the message says what was kept."""


class _State:
    """Whether SIGINT came while :func:`sigint_raises` was active, and whether it is deferred."""

    count = 0
    deferring = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    """Remember the signal; raise :class:`KeyboardInterrupt` unless deferred."""
    del signum, frame
    _State.count += 1
    if not _State.deferring:
        raise KeyboardInterrupt


@contextmanager
def sigint_raises() -> Iterator[None]:
    """Within the block, SIGINT raises :class:`KeyboardInterrupt` and is remembered.

    The previous handler is restored afterwards. Outside the main thread
    (where signal handlers cannot be set) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    _State.count, _State.deferring = 0, False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _State.count = 0


def received() -> bool:
    """Whether SIGINT came since :func:`sigint_raises` was entered (False outside it)."""
    return _State.count > 0


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block a SIGINT is remembered but raises nothing (see :func:`received`)."""
    before = _State.deferring
    _State.deferring = True
    try:
        yield
    finally:
        _State.deferring = before


def is_interrupted_tree(tree: xr.DataTree, chains: int, draws: int) -> bool:
    """Whether a sampled tree says it was interrupted, or holds fewer draws than asked.

    Parameters
    ----------
    tree : xarray.DataTree
        What :meth:`bayeshier.Model.sample` returned. Its ``attrs["interrupted"]``
        (``"true"``, read by :func:`bayeshier.bayes.interrupt.was_interrupted`)
        marks the draws of a sampler stopped early, trimmed to the completed
        ones; a tree without that mark but with fewer chains or draws than
        asked (a sampler that returned its partial trace unmarked) counts too.
    chains, draws : int
        The chains and draws per chain asked for.

    Returns
    -------
    bool

    """
    if was_interrupted(tree.attrs):
        return True
    if "posterior" not in tree.children:
        return True
    sizes = tree["posterior"].sizes
    return sizes.get("chain") != chains or sizes.get("draw") != draws
