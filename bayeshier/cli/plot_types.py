"""The kinds of plot of ``bayeshier run`` and what they are drawn from.

:class:`FilePlot`, :class:`ModelPlot` and :class:`FactorPlot` are the entries of
the registry :data:`bayeshier.cli.figures.PLOTS`; :class:`ModelResults` is
what a model's plots are drawn from. ``unless`` functions say why a plot is
not drawn for a model (:func:`gaussian_only`: not for a GLMM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.present.comparison import Comparison

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

    from bayeshier.bayes.model import Model
    from bayeshier.present.glmm_comparison import GlmmComparison
    from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "REML_TABLES",
    "FactorPlot",
    "FilePlot",
    "ModelPlot",
    "ModelResults",
    "Plot",
    "Scope",
    "gaussian_only",
    "ols_vs_within_unless",
]

#: How often a plot is drawn: once per model file, per model, or per grouping factor.
Scope = Literal["file", "model", "factor"]


@dataclass(frozen=True)
class ModelResults:
    """What the plots of one model are drawn from.

    Attributes
    ----------
    model : Model or GlmmModel
        The model, with its REML (or Laplace) fit.
    idata : xarray.DataTree
        The posterior, as :meth:`bayeshier.Model.sample` returns it.
    comparison : Comparison or GlmmComparison
        The REML (Laplace) fit and the posterior side by side.
    seed : int or None
        The sampler's seed (the posterior predictive check draws with it).

    """

    model: Model | GlmmModel
    idata: xr.DataTree
    comparison: Comparison | GlmmComparison
    seed: int | None

    @property
    def interval_label(self) -> str:
        """The posterior interval of the tables and plots, e.g. ``"89% ETI"``."""
        if isinstance(self.comparison, Comparison):
            return self.comparison.interval_label
        return self.comparison.interval.label

    @property
    def gaussian(self) -> Comparison:
        """The comparison of a Gaussian model (the plots that need one are not drawn for a GLMM)."""
        if not isinstance(self.comparison, Comparison):
            name = type(self.comparison).__name__
            raise TypeError(f"{name} is not the comparison of a Gaussian model")
        return self.comparison


def _drawn_always(model: Model | GlmmModel) -> str:
    del model
    return ""


def gaussian_only(reason: str) -> Callable[[Model | GlmmModel], str]:
    """An ``unless``: the sentence that says why the plot is not drawn for a GLMM."""

    def unless(model: Model | GlmmModel) -> str:
        if isinstance(model, GlmmModel):
            return f"the model is a {model.family.name} GLMM: {reason}"
        return ""

    return unless


#: Why the plots of the REML/BLUP columns are not drawn for a GLMM.
REML_TABLES = (
    "it reads the REML/BLUP columns of a Gaussian model; the GLMM's conditional modes, "
    "their conditional sd and the posterior are in the groups table"
)


def ols_vs_within_unless(model: Model | GlmmModel) -> str:
    """Why ``ols_vs_within`` is not drawn: a GLMM, or no fixed term besides the intercept."""
    reason = gaussian_only("it draws least-squares lines")(model)
    if not reason and model.spec.n_fixed < 2:
        reason = "it needs a fixed-effect term besides the intercept to plot the response against"
    return reason


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
    unless: Callable[[Model | GlmmModel], str] = _drawn_always


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
