"""Factor levels: labels in R's order, the reference level first, codes per row.

A factor's :class:`Levels` are learned once (sorted values, or the
categories' order of a categorical column; ``levels=`` and ``ref=`` of
``factor()``/``C()``/``relevel()`` reorder them) and then used to encode any
other rows. :class:`FactorValues` are an evaluated factor: one integer code
per row, :data:`MISSING` where the value is missing and below it where the
value is not among the learned levels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.spec.allowlist import function_of, literal_value
from bayeshier.spec.tree import Call, Node, Paren

__all__ = [
    "MISSING",
    "FactorValues",
    "Levels",
    "check_distinct_labels",
    "declare_levels",
    "label",
    "plain_values",
    "unwrap_factor",
]

#: Code of a missing value; codes below it mark values not among the learned levels.
MISSING = -1


def label(value: object) -> str:
    """A level's label: integral floats print without ``.0`` (``2008``, not ``2008.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_distinct_labels(
    labels: list[str] | tuple[str, ...], values: np.ndarray, name: str
) -> None:
    """Raise a :class:`DataError` if distinct values print as one label (``1`` and ``"1"``).

    A column holding, say, the number ``1`` and the text ``"1"`` has two
    distinct values that would both be the level ``"1"``: its levels, and
    every table indexed by them, would hold a label twice.
    """
    if len(set(labels)) == len(labels):
        return
    seen: dict[str, list[object]] = {}
    for text, value in zip(labels, values.tolist(), strict=True):
        seen.setdefault(text, []).append(value)
    clashes = [group for group in seen.values() if len(group) > 1][:3]
    shown = "; ".join(
        " and ".join(f"{value!r} ({type(value).__name__})" for value in group) for group in clashes
    )
    raise DataError(
        f"Column {name!r} holds values of different types that make the same level: {shown}. "
        f"Convert the column to one type first, e.g. data[{name!r}] = data[{name!r}].astype(str)."
    )


@dataclass(frozen=True, eq=False)
class Levels:
    """The levels of a factor, in order (the reference, for contrasts, first).

    Attributes
    ----------
    labels : tuple of str
        Level labels.
    values : numpy.ndarray
        The raw value behind each label (to encode new rows without forming labels).
    declared : tuple of str or None
        The levels given by ``levels=``: values outside them are missing.

    """

    labels: tuple[str, ...]
    values: np.ndarray
    declared: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class FactorValues:
    """An evaluated factor: a code per row (``MISSING``, or below for an unseen level)."""

    codes: np.ndarray
    levels: Levels
    ref: str | None = None
    unseen: tuple[str, ...] = ()

    def restrict(self, mask: np.ndarray | None, name: str) -> FactorValues:
        """The rows of ``mask``, without the levels they do not use, reference first."""
        codes = self.codes if mask is None else self.codes[mask]
        levels = self.levels
        count = len(levels.labels)
        used = np.bincount(codes[codes >= 0], minlength=count) > 0
        if not used.all():
            position = np.cumsum(used) - 1
            codes = np.where(codes >= 0, position[np.maximum(codes, 0)], codes)
            kept = np.flatnonzero(used)
            levels = replace(
                levels,
                labels=tuple(levels.labels[i] for i in kept),
                values=levels.values[kept],
            )
        if self.ref is not None:
            codes, levels = _reference_first(codes, levels, self.ref, name)
        return FactorValues(codes, levels, None, self.unseen)

    def unseen_in(self, codes: np.ndarray) -> list[str]:
        """Labels of the unseen levels among ``codes``."""
        return sorted({self.unseen[MISSING - 1 - c] for c in np.unique(codes[codes < MISSING])})


def _reference_first(
    codes: np.ndarray, levels: Levels, ref: str, name: str
) -> tuple[np.ndarray, Levels]:
    if ref not in levels.labels:
        raise DataError(
            f"The reference level {ref!r} of {name!r} is not one of its levels in the data "
            f"used: {', '.join(levels.labels)}."
        )
    position = levels.labels.index(ref)
    order = [position, *(i for i in range(len(levels.labels)) if i != position)]
    inverse = np.argsort(order)
    codes = np.where(codes >= 0, inverse[np.maximum(codes, 0)], codes)
    labels = tuple(levels.labels[i] for i in order)
    return codes, replace(levels, labels=labels, values=levels.values[order])


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.inner
    return node


def call_literal(call: Call, key: str, default: object = None) -> object:
    """A literal argument by keyword, or as the second positional argument."""
    value = call.keyword(key)
    if value is None and len(call.args) > 1:
        value = call.args[1]
    return default if value is None else literal_value(value)


def keyword_literal(call: Call, key: str, default: object) -> object:
    value = call.keyword(key)
    return default if value is None else literal_value(value)


def unwrap_factor(node: Node) -> tuple[Node, tuple[str, ...] | None, str | None]:
    """The expression under ``factor()``/``C()``/``relevel()``, its ``levels=`` and ``ref=``."""
    declared: tuple[str, ...] | None = None
    ref: str | None = None
    node = _unparen(node)
    while isinstance(node, Call) and (f := function_of(node)) and f.kind == "categorical":
        levels = node.keyword("levels")
        if levels is not None and declared is None:
            value = literal_value(levels)
            declared = tuple(label(v) for v in (value if isinstance(value, tuple) else (value,)))
        reference = (
            call_literal(node, "ref") if f.name == "relevel" else keyword_literal(node, "ref", None)
        )
        if reference is not None and ref is None:
            ref = label(reference)
        node = _unparen(node.args[0])
    return node, declared, ref


def declare_levels(
    codes: np.ndarray, levels: Levels, declared: tuple[str, ...]
) -> tuple[np.ndarray, Levels]:
    """Reorder the levels as ``levels=`` says; values outside them become missing."""
    position = pd.Index(declared).get_indexer(list(levels.labels))
    codes = np.where(codes >= 0, position[np.maximum(codes, 0)], MISSING)
    values = np.empty(len(declared), dtype=object)
    values[:] = list(declared)
    present = position >= 0
    values[position[present]] = levels.values[present]
    return codes.astype(np.intp, copy=False), Levels(declared, plain_values(values), declared)


def plain_values(values: np.ndarray) -> np.ndarray:
    """Numeric and boolean values as they are, anything else as Python objects."""
    if values.dtype.kind in "biuf":
        return values
    return values.astype(object)
