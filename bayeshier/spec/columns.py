"""Names in a formula resolve to columns of the data; what kind of variable each is.

A name is a column of the data first (so a column may be called ``log``,
``C``, ``Treatment``, ``np`` or ``pi``, and a dotted ``Sepal.Length`` is that
column), then the constant ``pi``; any other name is a missing column
(:class:`~bayeshier.errors.DataError`, with close matches), and ``np.xxx``
that is not a column is attribute access, which a formula cannot do
(:class:`~bayeshier.errors.FormulaError`).

A text column whose values are numbers but for a few (say one ``"."``
marking a missing value in a CSV file) is refused rather than taken for a
factor, when used as it is (a bare name, not ``factor()``/``C()``): at least
:data:`NUMERIC_SHARE` of its non-missing values are numbers, and not all of
them (see :func:`check_numeric_text`). A text column of numbers only (ID
codes such as ``"007"``) stays a factor, as it was meant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, FormulaError, close_matches_hint
from bayeshier.spec.allowlist import CONSTANTS, function_of
from bayeshier.spec.tree import Call, Name, Node, Paren

__all__ = [
    "NUMERIC_SHARE",
    "check_columns",
    "check_numeric_text",
    "column_kind",
    "resolve_name",
    "variable_kind",
]

#: A text column used as it is whose non-missing values are numbers in at least
#: this share of its rows, but not in all of them, is a :class:`DataError`.
NUMERIC_SHARE = 0.9
_SHOWN_VALUES = 5


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


def check_numeric_text(series: pd.Series, column: str) -> None:
    """Raise a :class:`DataError` for a text column that is numbers but for a few values.

    The rule: of the non-missing values of ``series`` (text, not a
    categorical dtype), at least :data:`NUMERIC_SHARE` parse as numbers and
    at least one does not. Such a column is almost always a numeric column
    with a missing-value marker (``"."``, ``"NA "``, ``"-"``), which used as
    it is would silently become a factor with a level for every number. The
    message lists the values that are not numbers and says how to mark them
    missing, or to write ``factor(column)`` if the column is categorical.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    ):
        return
    codes, uniques = pd.factorize(series)
    numbers = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce")
    bad = numbers.isna().to_numpy()
    if not bad.any():
        return
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    total = int(counts.sum())
    if total - int(counts[bad].sum()) < NUMERIC_SHARE * total:
        return
    _refuse_numeric_text(column, list(np.asarray(uniques, dtype=object)[bad]), counts[bad], total)


def _refuse_numeric_text(column: str, values: list, counts: np.ndarray, total: int) -> None:
    order = np.argsort(-counts, kind="stable")[:_SHOWN_VALUES]
    shown = ", ".join(f"{values[i]!r} ({int(counts[i])} row(s))" for i in order)
    more = f" and {len(values) - len(order)} more" if len(values) > len(order) else ""
    markers = ", ".join(repr(str(values[i])) for i in order)
    raise DataError(
        f"Column {column!r} looks numeric: {total - int(counts.sum())} of its {total} "
        f"non-missing values are numbers, but these are not: {shown}{more}. Used as it is "
        "it would become a factor with a level for every number. If they mark missing "
        f"values, say so when reading the data: pandas.read_csv(..., na_values=[{markers}]), "
        f"or --na-values on the bayeshier command line; or convert the column with "
        f"pandas.to_numeric(data[{column!r}], errors='coerce'). If the column is categorical, "
        f"write factor({column}) in the formula."
    )
