"""The plots of ``bayeshier run``, registered once: what each one is, when it is drawn, how.

Every plot is one entry of :data:`PLOTS`. The entry's class says how often it
is drawn: once per model file (:class:`FilePlot`), once per model
(:class:`ModelPlot`) or once per grouping factor it applies to
(:class:`FactorPlot`). The entry holds the plot's name (what ``[output] plots``
lists, and the PNG's file name), whether it is drawn by default, its caption in
the report (``{interval}`` in it becomes the posterior interval's name, e.g.
``89% ETI``), the function that draws it, why it is not drawn for a model it
does not fit (``unless``: a GLMM, or no fixed term to plot against; named in
the report) and, for a per-factor plot, which factors it applies to and why it
skips the others.

:mod:`bayeshier.cli.modelfile` checks ``[output] plots`` against :func:`names`
and takes its default from :func:`default_names`; :mod:`bayeshier.cli.run`
draws through :func:`model_images` and :func:`file_images`. Adding a plot is
adding one entry to :data:`PLOTS`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt

from bayeshier.cli import console
from bayeshier.cli.html_report import Image
from bayeshier.cli.plot_types import (
    REML_TABLES,
    FactorPlot,
    FilePlot,
    ModelPlot,
    ModelResults,
    Plot,
    Scope,
    gaussian_only,
    ols_vs_within_unless,
)
from bayeshier.present import plots, shrinkage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayeshier.bayes.glmm import GlmmModel
    from bayeshier.bayes.model import Model

__all__ = [
    "PLOTS",
    "PNG_DPI",
    "FactorPlot",
    "FilePlot",
    "ModelPlot",
    "ModelResults",
    "Plot",
    "Scope",
    "default_names",
    "factors_for",
    "file_images",
    "model_images",
    "names",
    "not_drawn",
    "plot_named",
]

#: Resolution of the saved plots.
PNG_DPI = 100


def _pair_size(model: Model) -> tuple[float, float]:
    """A square pair plot, 2.3 inches per variable (ArviZ's default is a wide strip).

    The variables are sigma and every factor's covariance parameters: an sd
    per term and a correlation per correlated pair of terms (``n_theta``).
    """
    count = 1 + sum(f.n_theta for f in model.spec.factors)
    side = 2.3 * count + 0.4
    return side, side - 0.3


#: Every plot ``bayeshier run`` can draw, in the order ``[output] plots`` errors list them.
PLOTS: tuple[Plot, ...] = (
    FactorPlot(
        name="shrinkage_arrows",
        default=True,
        caption="Shrinkage: each level's own estimate (lm), its BLUP and posterior mean",
        draw=lambda results, factor: plots.shrinkage_arrows(results.gaussian, factor=factor),
        unless=gaussian_only(REML_TABLES),
    ),
    FactorPlot(
        name="shrinkage_2d",
        default=True,
        caption="Shrinkage in two dimensions: own lm (intercept, slope), BLUP, posterior mean",
        draw=lambda results, factor: plots.shrinkage_2d(results.gaussian, factor=factor),
        unless=gaussian_only(REML_TABLES),
        applies_to=lambda factor: len(factor.terms) >= 2,
        skipped_because="it has a single random term (shrinkage_arrows shows it)",
    ),
    FactorPlot(
        name="prior_likelihood_posterior",
        default=True,
        caption="The BLUP as a posterior: normal prior x normal likelihood",
        draw=lambda results, factor: plots.prior_likelihood_posterior(
            shrinkage.normal_prior_posterior(results.gaussian.fit, factor=factor)
        ),
        unless=gaussian_only(
            "its normal prior x normal likelihood is exact for a Gaussian response only (on "
            "the link scale the conditional mode is not a normal posterior mean)"
        ),
        # with slopes the prior weight is a matrix, which shrinkage_2d shows
        applies_to=lambda factor: factor.intercept_only,
        skipped_because="it has random slopes (shrinkage_2d shows them)",
    ),
    FactorPlot(
        name="forest",
        default=True,
        caption="Level intercepts: posterior mean and {interval}, BLUP +- 2 conditional sd, "
        "no pooling",
        draw=lambda results, factor: plots.forest(results.gaussian, factor=factor),
        unless=gaussian_only(REML_TABLES),
    ),
    FactorPlot(
        name="ols_vs_within",
        default=True,
        caption="The response against the first fixed term: pooled OLS line, within-group "
        "lines (common slope) and the REML (GLS) line",
        draw=lambda results, factor: plots.ols_vs_within(results.gaussian, factor=factor),
        unless=ols_vs_within_unless,
        applies_to=lambda factor: factor.intercept_only,
        skipped_because="it has random slopes (its within-group lines share one slope)",
    ),
    ModelPlot(
        name="trace",
        default=True,
        caption="Posterior densities and traces per chain",
        draw=lambda results: plots.trace(results.idata),
    ),
    ModelPlot(
        name="rank",
        caption="Rank plots per chain",
        draw=lambda results: plots.rank(results.idata),
    ),
    ModelPlot(
        name="energy",
        default=True,
        caption="Energy plot (E-BFMI)",
        draw=lambda results: plots.energy(results.idata),
    ),
    ModelPlot(
        name="pair_variances",
        caption="Pair plot of the standard deviations",
        draw=lambda results: plots.pair_variances(
            results.idata, figure_kwargs={"figsize": _pair_size(results.model)}
        ),
    ),
    ModelPlot(
        name="ppc",
        default=True,
        caption="Posterior predictive check: the observed density against replicates",
        draw=lambda results: plots.ppc(results.idata, results.model, seed=results.seed),
        unless=gaussian_only("bayeshier draws no posterior predictive for a GLMM yet"),
    ),
    FilePlot(
        name="seed_scenarios",
        caption="The four seed scenarios on the curves of the share kept (lambda) against "
        "group size, at their true variance ratios",
        draw=lambda: plots.seed_scenarios(),
    ),
)


# ============================================================ looking up
def names(scope: Scope | None = None) -> tuple[str, ...]:
    """The registered plot names, in registry order.

    Parameters
    ----------
    scope : {"file", "model", "factor"}, optional
        Only the plots drawn this often (default: all).

    Returns
    -------
    tuple of str

    """
    return tuple(plot.name for plot in PLOTS if scope is None or plot.scope == scope)


def default_names() -> tuple[str, ...]:
    """The plots drawn when a model file has no ``[output] plots``, in registry order."""
    return tuple(plot.name for plot in PLOTS if plot.default)


def plot_named(name: str) -> Plot:
    """The registry's entry for ``name``; a :class:`KeyError` if there is none."""
    for plot in PLOTS:
        if plot.name == name:
            return plot
    raise KeyError(f"no plot named {name!r}; registered: {', '.join(names())}")


def not_drawn(requested: Sequence[str], model: Model | GlmmModel) -> dict[str, str]:
    """The per-model and per-factor plots among ``requested`` not drawn for ``model``, and why.

    Parameters
    ----------
    requested : sequence of str
        Registered plot names (``[output] plots``).
    model : Model or GlmmModel
        The model.

    Returns
    -------
    dict of str to str
        Plot name -> the reason (e.g. ``"the model is a binomial GLMM: ..."``),
        in ``requested`` order.

    """
    reasons = {}
    for name in requested:
        plot = plot_named(name)
        if isinstance(plot, ModelPlot | FactorPlot):
            reason = plot.unless(model)
            if reason:
                reasons[name] = reason
    return reasons


def factors_for(plot: FactorPlot, model: Model | GlmmModel) -> list[str]:
    """The names of the factors ``plot`` applies to; each one left out is named on stderr.

    Parameters
    ----------
    plot : FactorPlot
        A per-factor plot.
    model : Model
        The model whose grouping factors are considered, in formula order.

    Returns
    -------
    list of str

    """
    factors = []
    for factor in model.spec.factors:
        if plot.applies_to(factor):
            factors.append(factor.name)
        else:
            console.progress(
                f"  plot {plot.name} not drawn for {factor.name!r}: {plot.skipped_because}"
            )
    return factors


# =============================================================== drawing
def model_images(requested: Sequence[str], results: ModelResults, folder: Path) -> list[Image]:
    """Draw the per-model and per-factor plots among ``requested``, save each as PNG in ``folder``.

    Parameters
    ----------
    requested : sequence of str
        Registered plot names (``[output] plots``), drawn in this order;
        per-file plots among them are left to :func:`file_images`.
    results : ModelResults
        What the plots are drawn from.
    folder : pathlib.Path
        Where the PNG files go (the model's folder).

    Returns
    -------
    list of Image
        One per figure, for the report.

    """
    images = []
    skipped = not_drawn(requested, results.model)
    for name in requested:
        plot = plot_named(name)
        if not isinstance(plot, ModelPlot | FactorPlot):
            continue
        if name in skipped:
            console.progress(f"  plot {plot.name} not drawn: {skipped[name]}")
            continue
        console.progress(f"  plot {plot.name}")
        for file_name, caption, figure in _figures(plot, results):
            images.append(_save_image(file_name, caption, figure, folder))
    return images


def _figures(plot: ModelPlot | FactorPlot, results: ModelResults) -> list[tuple[str, str, Figure]]:
    """(file name, caption, figure) of ``plot``: one, or one per factor it applies to."""
    caption = plot.caption.format(interval=results.interval_label)
    if isinstance(plot, ModelPlot):
        return [(plot.name, caption, plot.draw(results))]
    several = len(results.model.spec.factors) > 1
    return [
        (
            f"{plot.name}_{_file_safe(factor)}" if several else plot.name,
            f"{caption} ({factor})",
            plot.draw(results, factor),
        )
        for factor in factors_for(plot, results.model)
    ]


def file_images(requested: Sequence[str], folder: Path) -> list[Image]:
    """Draw the per-file plots among ``requested``, save each as PNG in ``folder``.

    Parameters
    ----------
    requested : sequence of str
        Registered plot names (``[output] plots``); only the per-file ones are drawn.
    folder : pathlib.Path
        Where the PNG files go (next to ``report.html``).

    Returns
    -------
    list of Image

    """
    images = []
    for name in requested:
        plot = plot_named(name)
        if isinstance(plot, FilePlot):
            console.progress(f"plot {plot.name}")
            images.append(_save_image(plot.name, plot.caption, plot.draw(), folder))
    return images


def _save_image(name: str, caption: str, figure: Figure, folder: Path) -> Image:
    """Render ``figure`` to PNG, write it to ``folder/<name>.png``, close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI)
    plt.close(figure)
    png = buffer.getvalue()
    (folder / f"{name}.png").write_bytes(png)
    return Image(name=name, caption=caption, png=png)


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
