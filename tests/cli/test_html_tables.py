"""bayeshier.cli.html_tables: plain tables and escaping."""

from __future__ import annotations

import pandas as pd

from bayeshier.cli.html_tables import esc, table_html


def test_numbers_are_right_aligned_and_text_escaped():
    table = pd.DataFrame({"term": ["a<b"], "value": [1.5], "why": ["long & wrapped"]})
    page = table_html(table, wrap=("why",))
    assert "<th class='text'>term</th><th class='num'>value</th>" in page
    assert "<td class='text'>a&lt;b</td><td class='num'>1.5</td>" in page
    assert "<td class='text wrap'>long &amp; wrapped</td>" in page


def test_numeric_columns_can_be_named():
    table = pd.DataFrame({"ess": ["401"]})
    assert "<td class='num'>401</td>" in table_html(table, numeric=["ess"])


def test_esc_quotes_attributes():
    assert esc('it\'s "x"') == "it&#x27;s &quot;x&quot;"
