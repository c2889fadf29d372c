"""The HTML report of ``bayeshier run``: one self-contained page, nothing computed here.

Every function takes objects that were computed elsewhere (a
:class:`~bayeshier.present.comparison.Comparison`, the prior table, the table of
:func:`bayeshier.diagnose`, plots already rendered to PNG bytes) and returns
HTML text. Images are embedded as base64 ``data:`` URLs, so the page needs no
other file.

:func:`render_report` builds the page from one :class:`ModelSection` per
model; the other functions build its parts and can be used on their own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeshier._choices import Order
from bayeshier.cli.html_tables import esc as _esc
from bayeshier.cli.html_tables import table_html
from bayeshier.cli.report_sections import (
    comparison_html,
    not_drawn_html,
    pick_images,
    predictive_html,
)

if TYPE_CHECKING:
    from bayeshier.present.comparison import Comparison
    from bayeshier.present.glmm_comparison import GlmmComparison

__all__ = [
    "Image",
    "ModelSection",
    "diagnostics_html",
    "image_html",
    "model_section_html",
    "priors_html",
    "render_report",
    "settings_html",
    "table_html",
    "warnings_html",
]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1150px; margin: 1.5em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid #ccc; padding-bottom: 0.15em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.3em 0 0.6em; }
th { border-bottom: 1px solid #888; padding: 2px 10px; background: #f4f4f4; }
td { padding: 1px 10px; border-bottom: 1px solid #eee; }
td, th { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text, th.text { text-align: left; }
td.wrap { white-space: normal; max-width: 34em; }
.bayeshier-compare table th, .bayeshier-compare table td { padding: 1px 10px; }
.bayeshier-compare > p { margin: 0.8em 0 0.1em; }
.scroll { overflow-x: auto; }
.meta td:first-child { color: #555; padding-right: 1.5em; }
.note { background: #eef4fb; border-left: 4px solid #1f77b4; padding: 0.5em 0.9em; }
.warnings { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.4em 0.9em; }
.ok { color: #2a7a2a; }
figure { margin: 0.8em 0 1.4em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
footer { margin-top: 3em; font-size: 0.8em; color: #777; }
"""


@dataclass(frozen=True)
class Image:
    """A rendered plot: a name (also its file name), a caption and PNG bytes."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class ModelSection:
    """Everything the report shows about one model.

    Attributes
    ----------
    name : str
        The model's name in the file.
    description : str
        Free text from the model file (may be empty).
    meta : mapping of str to str
        Formula, data, rows, grouping factors, ... shown as a two-column table.
    settings : mapping of str to str
        Sampler settings, parameterization and timings.
    priors : pandas.DataFrame
        :attr:`bayeshier.Model.priors`.
    comparison : Comparison or GlmmComparison
        :func:`bayeshier.compare` of the REML fit and the posterior (for a
        GLMM, :func:`bayeshier.present.glmm_comparison.compare_glmm`).
    diagnostics : pandas.DataFrame
        :func:`bayeshier.diagnose` of the posterior.
    images : sequence of Image
        The model's plots (the one named ``ppc`` goes in the posterior
        predictive section).
    warnings : sequence of str
        Warnings raised while fitting, sampling and checking.
    order : {"shrinkage", "size", "level"}
        Order of the levels in the comparison tables (the model file's
        ``[output] order``).
    predictive : pandas.DataFrame or None
        :func:`bayeshier.cli.predictive_checks.predictive_checks`, or None
        with ``predictive_missing`` saying why.
    not_drawn : mapping of str to str
        Requested figures not drawn for this model, and why.

    """

    name: str
    description: str
    meta: Mapping[str, str]
    settings: Mapping[str, str]
    priors: pd.DataFrame
    comparison: Comparison | GlmmComparison
    diagnostics: pd.DataFrame
    images: Sequence[Image] = ()
    warnings: Sequence[str] = field(default_factory=tuple)
    order: Order = "shrinkage"
    predictive: pd.DataFrame | None = None
    predictive_missing: str = "the posterior predictive was not drawn"
    not_drawn: Mapping[str, str] = field(default_factory=dict)


# ================================================================= page
def render_report(
    title: str,
    sections: Sequence[ModelSection],
    *,
    description: str = "",
    source: str = "",
    notes: Sequence[str] = (),
    images: Sequence[Image] = (),
    footer: str = "",
) -> str:
    """The whole report as one HTML page.

    Parameters
    ----------
    title : str
        Page title (the model file's ``title``).
    sections : sequence of ModelSection
        One per model, in file order.
    description : str
        Text under the title.
    source : str
        Where the models came from (the model file's path).
    notes : sequence of str
        Highlighted notes under the title (e.g. that this was a quick run).
    images : sequence of Image
        Plots about the whole file (e.g. the seed scenarios), shown first.
    footer : str
        Small print at the bottom (version, date).

    Returns
    -------
    str
        A complete, self-contained HTML document.

    """
    parts = [f"<h1>{_esc(title)}</h1>"]
    if source:
        parts.append(f"<p>Model file: <code>{_esc(source)}</code></p>")
    if description:
        parts.append(f"<p>{_esc(description)}</p>")
    parts += [f"<p class='note'>{_esc(note)}</p>" for note in notes]
    parts.append(_contents(sections))
    parts += [image_html(image) for image in images]
    parts += [model_section_html(section) for section in sections]
    if footer:
        parts.append(f"<footer>{_esc(footer)}</footer>")
    return _document(title, "\n".join(parts))


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _contents(sections: Sequence[ModelSection]) -> str:
    if len(sections) < 2:
        return ""
    items = "".join(
        f"<li><a href='#{_anchor(s.name)}'>{_esc(s.name)}</a>: {_esc(s.meta.get('formula', ''))}"
        f"{_warning_badge(s)}</li>"
        for s in sections
    )
    return f"<p>Models in this report:</p><ul>{items}</ul>"


def _warning_badge(section: ModelSection) -> str:
    count = len(section.warnings)
    return f" ({count} warning{'s' * (count != 1)})" if count else ""


def _anchor(name: str) -> str:
    return "model-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in name)


# ========================================================== one model
def model_section_html(section: ModelSection) -> str:
    """One model: description, settings, warnings, priors, comparison, plots, checks."""
    parts = [f"<section id='{_anchor(section.name)}'><h2>Model {_esc(section.name)}</h2>"]
    if section.description:
        parts.append(f"<p>{_esc(section.description)}</p>")
    parts.append(settings_html({**section.meta, **section.settings}))
    parts.append("<h3>Warnings</h3>" + warnings_html(section.warnings))
    parts.append("<h3>Priors</h3>" + priors_html(section.priors))
    parts.append(comparison_html(section.comparison, section.order))
    ppc, others = pick_images(section.images, "ppc")
    parts += [image_html(image) for image in others]
    figure = "".join(image_html(image) for image in ppc)
    parts.append(predictive_html(section.predictive, figure, section.predictive_missing))
    parts.append(not_drawn_html(section.not_drawn))
    parts.append("<h3>Convergence diagnostics</h3>" + diagnostics_html(section.diagnostics))
    parts.append("</section>")
    return "\n".join(parts)


def settings_html(items: Mapping[str, str]) -> str:
    """A two-column key/value table."""
    rows = "".join(
        f"<tr><td>{_esc(key)}</td><td class='text wrap'>{_esc(value)}</td></tr>"
        for key, value in items.items()
    )
    return f"<table class='meta'><tbody>{rows}</tbody></table>"


def priors_html(priors: pd.DataFrame) -> str:
    """The prior table (term, distribution, parameters, why)."""
    return table_html(priors, wrap=("why",))


def warnings_html(messages: Sequence[str]) -> str:
    """The warnings as a highlighted list, or a line saying there were none."""
    if not messages:
        return "<p class='ok'>No warnings: the fit and every convergence check passed.</p>"
    items = "".join(f"<li>{_esc(message)}</li>" for message in messages)
    return f"<div class='warnings'><ul>{items}</ul></div>"


def image_html(image: Image) -> str:
    """A figure with the PNG embedded as a base64 ``data:`` URL."""
    data = base64.b64encode(image.png).decode("ascii")
    caption = _esc(image.caption)
    return (
        f"<figure><img alt='{_esc(image.name)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


# ========================================================== diagnostics
_DIAGNOSTIC_FORMATS = {
    "r_hat": "{:.3f}",
    "ess_bulk": "{:.0f}",
    "ess_tail": "{:.0f}",
    "mcse": "{:.3g}",
    "mcse_sd": "{:.3g}",
    "divergences": "{:.0f}",
    "bfmi": "{:.2f}",
}


def diagnostics_html(table: pd.DataFrame) -> str:
    """The table of :func:`bayeshier.diagnose`: parameters, then chains.

    Parameters
    ----------
    table : pandas.DataFrame
        With columns ``kind``, ``r_hat``, ``ess_bulk``, ``ess_tail``,
        ``mcse``, ``mcse_sd``, ``divergences``, ``bfmi``.

    Returns
    -------
    str
        Two tables side by side: per parameter (R-hat, ESS, MCSE) and per
        chain (divergences, E-BFMI).

    """
    if "kind" in table.columns:  # the former layout: parameter and chain rows in one table
        parameters, chains = table[table["kind"] == "parameter"], table[table["kind"] == "chain"]
    else:  # parameter rows; the per-chain checks in attrs["chains"]
        chains = pd.DataFrame(table.attrs.get("chains", {}), columns=["divergences", "bfmi"])
        parameters = table
    left = _diagnostic_table(parameters, ["r_hat", "ess_bulk", "ess_tail", "mcse", "mcse_sd"])
    right = _diagnostic_table(chains, ["divergences", "bfmi"])
    return (
        "<div style='display:flex;gap:2.5em;align-items:flex-start;flex-wrap:wrap'>"
        f"<div>{left}</div><div>{right}</div></div>"
    )


def _diagnostic_table(rows: pd.DataFrame, columns: list[str]) -> str:
    cells = pd.DataFrame(index=rows.index)
    for column in columns:
        fmt = _DIAGNOSTIC_FORMATS[column]
        cells[column] = [_format(value, fmt) for value in rows[column]]
    labeled = cells.reset_index(names="")
    return table_html(labeled, numeric=columns)


def _format(value: Any, fmt: str) -> str:
    return (
        "" if value is None or (isinstance(value, float) and np.isnan(value)) else fmt.format(value)
    )
