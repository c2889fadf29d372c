"""The plots of ``bayeshier run``, registered once: what each one is, when it is drawn, how.

Every plot is one entry of :data:`PLOTS`. The entry's class says how often it
is drawn: once per model file (:class:`FilePlot`), once per model
(:class:`ModelPlot`) or once per grouping factor it applies to
(:class:`FactorPlot`). The entry holds the plot's name (what ``[output] plots``
lists, and the PNG's file name), whether it is drawn by default, its caption in
the report, the function that draws it and, for a per-factor plot, which
factors it applies to and why it skips the others.

:mod:`bayeshier.cli.modelfile` checks ``[output] plots`` against :func:`names`
and takes its default from :func:`default_names`; :mod:`bayeshier.cli.run`
draws through :func:`model_images` and :func:`file_images`. Adding a plot is
adding one entry to :data:`PLOTS`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import matplotlib.pyplot as plt

from bayeshier.cli import console
from bayeshier.cli.html_report import Image
from bayeshier.present import plots, shrinkage

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

    from bayeshier.bayes.model import Model
    from bayeshier.present.comparison import Comparison
    from bayeshier.spec.model_spec import GroupingFactor

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
    "plot_named",
]

#: Resolution of the saved plots.
PNG_DPI = 100

#: How often a plot is drawn: once per model file, per model, or per grouping factor.
Scope = Literal["file", "model", "factor"]


@dataclass(frozen=True)
class ModelResults:
    """What the plots of one model are drawn from.

    Attributes
    ----------
    model : Model
        The model, with its REML fit.
    idata : xarray.DataTree
        The posterior, as :meth:`bayeshier.Model.sample` returns it.
    comparison : Comparison
        The REML fit and the posterior side by side.
    seed : int or None
        The sampler's seed (the posterior predictive check draws with it).

    """

    model: Model
    idata: xr.DataTree
    comparison: Comparison
    seed: int | None


def _every_factor(factor: GroupingFactor) -> bool:
    del factor
    return True


@dataclass(frozen=True, kw_only=True)
class Plot:
    """What every plot has: a name, a caption, and whether it is drawn by default."""

    scope: ClassVar[Scope]
    name: str
    caption: str
    default: bool = False


@dataclass(frozen=True, kw_only=True)
class FilePlot(Plot):
    """A plot about the whole model file, drawn once and shown above the models."""

    scope: ClassVar[Scope] = "file"
    draw: Callable[[], Figure]


@dataclass(frozen=True, kw_only=True)
class ModelPlot(Plot):
    """A plot drawn once per model, from its :class:`ModelResults`."""

    scope: ClassVar[Scope] = "model"
    draw: Callable[[ModelResults], Figure]


@dataclass(frozen=True, kw_only=True)
class FactorPlot(Plot):
    """A plot drawn once per grouping factor it applies to.

    ``applies_to`` picks the factors (by default all of them; with random
    slopes a plot of the levels then shows their intercept rows);
    ``skipped_because`` finishes the stderr line that names each factor left
    out. ``draw`` gets the model's results and the factor's name. With several
    factors in the model each file is named ``<plot>_<factor>.png``.
    """

    scope: ClassVar[Scope] = "factor"
    draw: Callable[[ModelResults, str], Figure]
    applies_to: Callable[[GroupingFactor], bool] = _every_factor
    skipped_because: str = ""


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
        draw=lambda results, factor: plots.shrinkage_arrows(results.comparison, factor=factor),
    ),
    FactorPlot(
        name="shrinkage_2d",
        default=True,
        caption="Shrinkage in two dimensions: own lm (intercept, slope), BLUP, posterior mean",
        draw=lambda results, factor: plots.shrinkage_2d(results.comparison, factor=factor),
        applies_to=lambda factor: len(factor.terms) >= 2,
        skipped_because="it has a single random term (shrinkage_arrows shows it)",
    ),
    FactorPlot(
        name="prior_likelihood_posterior",
        default=True,
        caption="The BLUP as a posterior: normal prior x normal likelihood",
        draw=lambda results, factor: plots.prior_likelihood_posterior(
            shrinkage.normal_prior_posterior(results.model.reml, factor=factor)
        ),
        # with slopes the prior weight is a matrix, which shrinkage_2d shows
        applies_to=lambda factor: factor.intercept_only,
        skipped_because="it has random slopes (shrinkage_2d shows them)",
    ),
    FactorPlot(
        name="forest",
        default=True,
        caption="Level intercepts: posterior HDI, BLUP +- 2 conditional sd, no pooling",
        draw=lambda results, factor: plots.forest(results.comparison, factor=factor),
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
        caption="Posterior predictive check",
        draw=lambda results: plots.ppc(results.idata, results.model, seed=results.seed),
    ),
    FilePlot(
        name="seed_scenarios",
        caption="The four seed scenarios on the shrinkage curves of their true ratios",
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


def factors_for(plot: FactorPlot, model: Model) -> list[str]:
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
    for name in requested:
        plot = plot_named(name)
        if not isinstance(plot, ModelPlot | FactorPlot):
            continue
        console.progress(f"  plot {plot.name}")
        for file_name, caption, figure in _figures(plot, results):
            images.append(_save_image(file_name, caption, figure, folder))
    return images


def _figures(plot: ModelPlot | FactorPlot, results: ModelResults) -> list[tuple[str, str, Figure]]:
    """(file name, caption, figure) of ``plot``: one, or one per factor it applies to."""
    if isinstance(plot, ModelPlot):
        return [(plot.name, plot.caption, plot.draw(results))]
    several = len(results.model.spec.factors) > 1
    return [
        (
            f"{plot.name}_{_file_safe(factor)}" if several else plot.name,
            f"{plot.caption} ({factor})",
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
