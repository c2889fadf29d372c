"""The data of a model file's model: a bundled data set by name, or a CSV / Parquet file.

:func:`read_data` reads it, marking the ``na_values`` of a CSV file missing.
:func:`stray_values` finds the columns that are numbers but for a few values
(a ``.`` or ``n/a`` standing for "missing"), which pandas would otherwise read
as text and the formula would take for a factor; :func:`check_numeric_columns`
turns them into a :class:`~bayeshier.errors.DataError` that lists the values and
says how to mark them missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bayeshier import datasets
from bayeshier.errors import DataError, close_matches_hint
from bayeshier.spec.columns import NUMERIC_SHARE

__all__ = [
    "DATA_SUFFIXES",
    "MOSTLY_NUMERIC",
    "StrayValues",
    "check_numeric_columns",
    "flag_hint",
    "formula_columns",
    "na_values_hint",
    "read_data",
    "stray_values",
]

#: The file types a model's ``data`` path may have.
DATA_SUFFIXES = (".csv", ".parquet")
#: A text column is taken for numbers with a few strays when this share of its values are
#: numbers: the formula layer's rule (:func:`bayeshier.spec.columns.check_numeric_text`), checked
#: here on the file so that the message can name its rows.
MOSTLY_NUMERIC = NUMERIC_SHARE
_SHOWN = 5


def read_data(source: str, base: str | Path, na_values: Sequence[str] = ()) -> pd.DataFrame:
    """A bundled data set by name, or a CSV / Parquet file by path relative to ``base``.

    Parameters
    ----------
    source : str
        A name from :func:`bayeshier.datasets.names` or a path ending in
        ``.csv`` or ``.parquet``.
    base : str or pathlib.Path
        Folder that relative paths start from (the model file's folder).
    na_values : sequence of str
        Values of a CSV file that mean "missing", besides pandas' own
        (``""``, ``NA``, ``NaN``, ...): ``pandas.read_csv(na_values=...)``.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        Unknown name, missing file or unreadable file.

    """
    if source in datasets.names():
        return datasets.load(source)
    suffix = Path(source).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"data = {source!r} is neither a bundled data set nor a .csv/.parquet path."
            f"{close_matches_hint(source, datasets.names())} "
            f"Bundled: {', '.join(datasets.names())}."
        )
    path = Path(base) / source
    if not path.is_file():
        raise DataError(f"No data file at {str(path)!r} (data = {source!r}): check the path.")
    return _read_table(path, suffix, na_values)


def _read_table(path: Path, suffix: str, na_values: Sequence[str]) -> pd.DataFrame:
    try:
        if suffix == ".csv":
            return pd.read_csv(path, na_values=list(na_values) or None)
        return pd.read_parquet(path)
    except ImportError as error:
        raise DataError(f"Cannot read {str(path)!r}: {error}") from None
    except (ValueError, OSError) as error:
        raise DataError(f"Cannot read {str(path)!r} as {suffix[1:]}: {error}") from None


# =========================================================== stray values
@dataclass(frozen=True)
class StrayValues:
    """A column of numbers but for a few values.

    Attributes
    ----------
    column : str
        The column's name.
    count : int
        How many of its values are not numbers.
    examples : tuple of (int, str)
        The first few of them: (row counted from 1, value).
    distinct : tuple of str
        The distinct values that are not numbers, most frequent first.
    share : float
        The share of the column's non-missing values that are numbers.

    """

    column: str
    count: int
    examples: tuple[tuple[int, str], ...]
    distinct: tuple[str, ...]
    share: float


def stray_values(
    frame: pd.DataFrame,
    columns: Iterable[str] | None = None,
    *,
    mostly: float = MOSTLY_NUMERIC,
) -> list[StrayValues]:
    """The text columns of ``frame`` whose values are numbers but for a few.

    A pure function of the frame: it reads no file and changes nothing.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data.
    columns : iterable of str, optional
        Only these columns (default: all of them).
    mostly : float
        A text column counts when at least this share of its non-missing
        values, and not all of them, parse as numbers.

    Returns
    -------
    list of StrayValues
        In the frame's column order.

    """
    wanted = list(frame.columns) if columns is None else list(columns)
    found = []
    for name in wanted:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        ):
            continue
        present = values.dropna()
        strays = present[pd.to_numeric(present, errors="coerce").isna()]
        if present.empty or strays.empty or 1 - len(strays) / len(present) < mostly:
            continue
        rows = [frame.index.get_loc(label) + 1 for label in strays.index[:_SHOWN]]
        found.append(
            StrayValues(
                column=str(name),
                count=len(strays),
                examples=tuple(zip(rows, map(str, strays.iloc[:_SHOWN]), strict=True)),
                distinct=tuple(strays.astype(str).value_counts().index[:_SHOWN]),
                share=1 - len(strays) / len(present),
            )
        )
    return found


def check_numeric_columns(
    frame: pd.DataFrame,
    source: str,
    columns: Iterable[str] | None,
    how_to_mark: Callable[[Sequence[str]], str],
) -> None:
    """Raise a :class:`DataError` for the first column of :func:`stray_values`, if any.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data.
    source : str
        Where they came from (named in the message).
    columns : iterable of str, optional
        Only these columns (default: all).
    how_to_mark : callable
        Says how to mark the given values missing (e.g. :func:`na_values_hint`).

    Raises
    ------
    DataError
        Naming the column, the values that are not numbers (with their rows)
        and how to mark them missing.

    """
    found = stray_values(frame, columns)
    if not found:
        return
    first = found[0]
    shown = ", ".join(f"{value!r} (row {row})" for row, value in first.examples)
    more = f" and {first.count - len(first.examples)} more" if first.count > _SHOWN else ""
    raise DataError(
        f"{source}: column {first.column!r} holds numbers ({first.share:.0%} of its values) "
        f"but {first.count} value(s) that are not: {shown}{more} (rows counted from 1 after "
        f"the header). Read as text, the column would be taken for a factor. If these values "
        f"mean 'missing', mark them so: {how_to_mark(first.distinct)}; "
        "otherwise correct them in the file."
    )


def formula_columns(formula: str, columns: Iterable[str]) -> list[str]:
    """The ``columns`` whose names appear in ``formula`` as whole names."""
    return [
        column
        for column in map(str, columns)
        if re.search(rf"(?<![\w.]){re.escape(column)}(?![\w.])", formula)
    ]


def flag_hint(values: Sequence[str]) -> str:
    """How to mark ``values`` missing on the command line: ``--na-values .,n/a``."""
    return f"--na-values {','.join(values)}"


def na_values_hint(values: Sequence[str]) -> str:
    """How to mark ``values`` missing in a model file, or on the ``bayeshier run`` command line."""
    listed = ", ".join(f'"{value}"' for value in values)
    return (
        f"na_values = [{listed}] in the model file (at the top or in the [[model]]), "
        f"or {flag_hint(values)} on the command line"
    )
