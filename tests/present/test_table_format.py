"""bayeshier.present.table_format: cells as strings, text and HTML layout of one table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier.present.table_format import TableBlock, format_table, html_block, text_block

RIGHT = "text-align:right;font-variant-numeric:tabular-nums"


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {"level": ["a", "<b>"], "n": [5, 62], "x": [123.456, 1.2], "y": [0.001234, np.nan]}
    )


# ------------------------------------------------------------ format_table
def test_columns_share_decimals_set_by_their_largest_number(table):
    cells = format_table(table)
    assert list(cells["x"]) == ["123.46", "1.20"]  # 5 significant digits of 123.456
    assert list(cells["y"]) == ["0.001234", ""]  # at most 6 decimals; NaN is blank
    assert list(cells["level"]) == ["a", "<b>"]
    assert list(cells["n"]) == ["5", "62"]  # integers as they are


def test_rows_share_decimals_for_terms_on_different_scales(table):
    cells = format_table(table, by="row")
    assert list(cells.iloc[0]) == ["a", "5", "123.46", "0.00"]
    assert list(cells.iloc[1]) == ["<b>", "62", "1.2000", ""]


def test_digits_keep_at_least_one_decimal(table):
    assert list(format_table(table, digits=3)["x"]) == ["123.5", "1.2"]
    assert list(format_table(pd.DataFrame({"z": [0.0, np.nan]}))["z"]) == ["0.0", ""]


# -------------------------------------------------------------- text_block
def test_text_block_aligns_numbers_right_and_labels_left(table):
    lines = text_block(TableBlock("Title", table, "a reading"), 5)
    assert lines == [
        "Title",
        "level   n       x         y",
        "a       5  123.46  0.001234",
        "<b>    62    1.20",
        "-> a reading",
        "",
    ]


def test_text_block_of_an_empty_table_keeps_the_header(table):
    lines = text_block(TableBlock("Empty", table.iloc[:0], "none"), 5)
    assert lines == ["Empty", "level  n  x  y", "-> none", ""]


# -------------------------------------------------------------- html_block
def test_html_block_escapes_and_aligns(table):
    page = html_block(TableBlock("T<1>", table, "r & s", by="row"), 5)
    assert page.startswith("<p style='margin-bottom:2px'>T&lt;1&gt;</p><table>")
    assert page.endswith("</table><p style='margin-top:2px'><i>r &amp; s</i></p>")
    assert "<th style='text-align:left'>level</th>" in page
    assert f"<th style='{RIGHT}'>x</th>" in page
    assert "<td style='text-align:left'>&lt;b&gt;</td>" in page
    assert f"<td style='{RIGHT}'>1.2000</td>" in page  # decimals shared along the row
    assert page.count("<tr>") == 3
