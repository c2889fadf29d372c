"""Tables as aligned text or HTML: every cell a string, floats with shared decimals.

:func:`format_table` writes the cells; :func:`text_block` and
:func:`html_block` lay out one :class:`TableBlock` (a title, the table, a
one-line reading under it). :mod:`bayeshier.present.comparison_text` builds
the blocks of a comparison.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["TableBlock", "format_table", "html_block", "text_block"]


@dataclass(frozen=True)
class TableBlock:
    """One table of a view: its title, the rows, the reading under it.

    ``by`` says how :func:`format_table` shares decimals: down each column
    (numbers on one scale) or along each row (terms on different scales).
    """

    title: str
    table: pd.DataFrame
    reading: str
    by: Literal["column", "row"] = "column"


def _decimals(values: pd.Series, digits: int) -> int:
    finite = np.abs(values.to_numpy(dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return 1
    magnitude = int(np.floor(np.log10(finite.max())))
    return int(np.clip(digits - 1 - magnitude, 1, 6))


def format_table(
    table: pd.DataFrame, digits: int = 5, by: Literal["column", "row"] = "column"
) -> pd.DataFrame:
    """Every cell as a string, floats with a shared number of decimals.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to format.
    digits : int
        Significant digits of the largest number sharing the decimals.
    by : {"column", "row"}
        Share the decimals down each column (numbers on one scale, e.g. the
        levels of a factor) or along each row (terms on different scales).

    """
    floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    formatted = table.astype(object).map(str)
    if by == "column":
        places = {c: pd.Series(_decimals(table[c], digits), index=table.index) for c in floats}
    else:
        row_places = table[floats].apply(lambda r: _decimals(r, digits), axis=1)
        places = {c: row_places for c in floats}
    for column in floats:
        formatted[column] = [
            "" if pd.isna(v) else f"{v:.{p}f}"
            for v, p in zip(table[column], places[column], strict=True)
        ]
    return formatted


def text_block(block: TableBlock, digits: int) -> list[str]:
    """The block as lines: title, header, aligned rows (numbers right), ``-> reading``, blank."""
    table = block.table
    cells = format_table(table, digits, block.by)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    widths = [
        max(len(str(c)), *(len(v) for v in cells[c])) if len(cells) else len(str(c))
        for c in cells.columns
    ]

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    rows = [line([str(c) for c in table.columns])]
    rows += [line(list(r)) for r in cells.itertuples(index=False)]
    return [block.title, *rows, f"-> {block.reading}", ""]


def html_block(block: TableBlock, digits: int) -> str:
    """The block as HTML: the title, an escaped table (numbers right-aligned), the reading."""
    table = block.table
    cells = format_table(table, digits, block.by)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    style = [
        "text-align:right;font-variant-numeric:tabular-nums" if n else "text-align:left"
        for n in numeric
    ]
    head = "".join(
        f"<th style='{s}'>{html.escape(str(c))}</th>"
        for c, s in zip(table.columns, style, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td style='{s}'>{html.escape(v)}</td>" for v, s in zip(r, style, strict=True))
        + "</tr>"
        for r in cells.itertuples(index=False)
    )
    return (
        f"<p style='margin-bottom:2px'>{html.escape(block.title)}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p style='margin-top:2px'><i>{html.escape(block.reading)}</i></p>"
    )
