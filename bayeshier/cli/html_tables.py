"""Plain HTML tables and escaping, shared by the parts of the report."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

__all__ = ["esc", "table_html"]


def table_html(
    table: pd.DataFrame, *, numeric: Sequence[str] | None = None, wrap: Sequence[str] = ()
) -> str:
    """A DataFrame as a plain HTML table, numbers right-aligned.

    Parameters
    ----------
    table : pandas.DataFrame
        Cells are shown with ``str()``; format numbers beforehand.
    numeric : sequence of str, optional
        Columns to right-align (default: the numeric dtypes).
    wrap : sequence of str
        Columns whose long text may wrap.

    Returns
    -------
    str

    """
    if numeric is None:
        numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    classes = [
        "num" if c in numeric else ("text wrap" if c in wrap else "text") for c in table.columns
    ]
    head = "".join(
        f"<th class='{k}'>{esc(str(c))}</th>" for c, k in zip(table.columns, classes, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td class='{k}'>{esc(str(v))}</td>" for v, k in zip(row, classes, strict=True))
        + "</tr>"
        for row in table.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def esc(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)
