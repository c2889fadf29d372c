"""Names in a formula resolve to columns of the data; what kind of variable each is.

A name is a column of the data first (so a column may be called ``log``,
``C``, ``Treatment``, ``np`` or ``pi``, and a dotted ``Sepal.Length`` is that
column), then the constant ``pi``; any other name is a missing column
(:class:`~bayeshier.errors.DataError`, with close matches), and ``np.xxx``
that is not a column is attribute access, which a formula cannot do
(:class:`~bayeshier.errors.FormulaError`).
"""

from __future__ import annotations

import pandas as pd

from bayeshier.errors import DataError, FormulaError, close_matches_hint
from bayeshier.spec.allowlist import CONSTANTS, function_of
from bayeshier.spec.tree import Call, Name, Node, Paren

__all__ = ["check_columns", "column_kind", "resolve_name", "variable_kind"]


def column_kind(column: pd.Series) -> str:
    """``"numeric"`` for a numeric column, ``"categorical"`` for text, categories and booleans."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "unsupported"
    return "categorical"


def check_columns(data: pd.DataFrame, columns: list[str], where: str) -> None:
    """Raise a :class:`DataError` naming the first of ``columns`` missing from ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        column = missing[0]
        names = [str(c) for c in data.columns]
        raise DataError(
            f"Column {column!r} is not in the {where}.{close_matches_hint(column, names)} "
            f"The {where} has columns: {', '.join(names)}."
        )


def resolve_name(node: Name, data: pd.DataFrame, where: str) -> str | None:
    """The column ``node`` names, or ``None`` for the constant ``pi``."""
    if node.id in data.columns:
        return node.id
    if not node.quoted and node.id in CONSTANTS:
        return None
    if not node.quoted and node.id.startswith(("np.", "numpy.")):
        raise FormulaError(
            f"{node.id!r} (position {node.start}) is not a column of the {where}, and "
            "attribute access is not allowed: a formula is data, never code. numpy "
            "functions may only be called, among the allowed ones (e.g. np.log(x))."
        )
    check_columns(data, [node.id], where)
    return node.id  # pragma: no cover (check_columns raised)


def variable_kind(node: Node, data: pd.DataFrame, where: str = "data") -> str:
    """``numeric``, ``categorical`` or ``matrix``: what ``node`` evaluates to on ``data``."""
    while isinstance(node, Paren):
        node = node.inner
    if isinstance(node, Name):
        column = resolve_name(node, data, where)
        return "numeric" if column is None else column_kind(data[column])
    if isinstance(node, Call):
        function = function_of(node)
        if function is not None and function.kind in ("categorical", "matrix"):
            return function.kind
    return "numeric"
