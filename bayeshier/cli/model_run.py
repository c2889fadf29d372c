"""One model of ``bayeshier run``: built and fitted, then sampled, compared, checked and drawn.

:func:`prepare` reads a model's data, builds it and fits it (REML for a
Gaussian model, glmer's Laplace approximation for ``family = "binomial"`` or
``"poisson"``), so that bad input fails before anything is sampled.
:func:`run_model` samples the posterior, draws the posterior predictive
(Gaussian models), prints the side-by-side table, draws the plots and saves
the posterior; it returns the model's section of the report.

A Gaussian model is a :class:`bayeshier.Model` compared by
:func:`bayeshier.compare`; a GLMM is a :class:`bayeshier.bayes.glmm.GlmmModel`
compared by :func:`bayeshier.present.glmm_comparison.compare_glmm`. Both
report the model file's posterior interval (``[output] ci_prob``,
``ci_kind``; by default ArviZ's, an 89% ETI).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayeshier.bayes.diagnostics import diagnose
from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import (
    console,
    figures,
    html_report,
    interrupts,
    modelfile,
    output_folder,
    section_meta,
    writing,
)
from bayeshier.cli.model_data import (
    check_numeric_columns,
    formula_columns,
    na_values_hint,
    read_data,
)
from bayeshier.cli.predictive_checks import predictive_checks
from bayeshier.errors import (
    BayeshierError,
    ConvergenceWarning,
    ModelError,
    RankDeficiencyWarning,
    SamplingWarning,
)
from bayeshier.present.comparison import Comparison, compare
from bayeshier.present.glmm_comparison import GlmmComparison, compare_glmm
from bayeshier.present.intervals import CredibleInterval

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["PreparedModel", "build_model", "prepare", "run_model"]

#: Why a GLMM's report has no posterior predictive check.
GLMM_NO_PREDICTIVE = "bayeshier draws no posterior predictive for a GLMM yet"


@dataclass
class PreparedModel:
    """A model of the file, built and fitted (REML or Laplace), with its timings and warnings."""

    entry: modelfile.ModelEntry
    model: Model | GlmmModel
    timings: dict[str, float]
    warnings: list[warnings.WarningMessage]


def build_model(entry: modelfile.ModelEntry, data: pd.DataFrame) -> Model | GlmmModel:
    """The model of ``entry``: a :class:`Model`, or a :class:`GlmmModel` for another family."""
    priors = dict(entry.priors) or None
    if entry.family == "gaussian":
        return Model(
            entry.formula,
            data,
            weights=entry.weights,
            offset=entry.offset,
            priors=priors,
            parameterization=entry.parameterization,
            likelihood=entry.likelihood,
        )
    return GlmmModel(
        entry.formula,
        data,
        entry.family,
        link=entry.link,
        weights=entry.weights,
        offset=entry.offset,
        priors=priors,
        parameterization=entry.parameterization,
    )


def _fit(model: Model | GlmmModel) -> tuple[str, float]:
    """Fit ``model`` (REML, or Laplace for a GLMM); the step's name and its seconds."""
    if isinstance(model, GlmmModel):
        return "Laplace fit", _timed(lambda: model.fit)[1]
    return "REML fit", _timed(lambda: model.reml)[1]


def prepare(model_file: modelfile.ModelFile, entry: modelfile.ModelEntry) -> PreparedModel:
    """Read the data, build the model and fit it; errors name the file and the model.

    Parameters
    ----------
    model_file : ModelFile
        The file (its folder is where relative data paths start).
    entry : ModelEntry
        One of its models.

    Returns
    -------
    PreparedModel

    Raises
    ------
    BayeshierError
        Of the same class as the error raised, its message prefixed with
        ``<file>: model '<name>':``.

    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = read_data(entry.data, model_file.path.parent, entry.na_values)
            if entry.data.lower().endswith(".csv"):
                used = formula_columns(entry.formula, data.columns)
                check_numeric_columns(data, f"data {entry.data!r}", used, na_values_hint)
            model = build_model(entry, data)
            step, seconds = _fit(model)
        except BayeshierError as error:
            raise type(error)(f"{model_file.path}: model {entry.name!r}: {error}") from None
    return PreparedModel(entry, model, {step: seconds}, list(caught))


@dataclass
class _Outcome:
    """What sampling and checking one model gave (the parts of its report section)."""

    comparison: Comparison | GlmmComparison
    diagnostics: pd.DataFrame
    images: list[html_report.Image]
    predictive: pd.DataFrame | None
    predictive_missing: str


def run_model(
    model_file: modelfile.ModelFile,
    prepared: PreparedModel,
    settings: modelfile.SamplerSettings,
    out_dir: Path,
) -> html_report.ModelSection:
    """Sample, compare, check and plot one model; write its files; return its report section."""
    entry, model, output = prepared.entry, prepared.model, model_file.output
    timings = dict(prepared.timings)
    for step, seconds in prepared.timings.items():
        console.progress(f"  {step}: {seconds:.2f} s")
    model_dir = output_folder.safe_child(out_dir, entry.name)
    model_dir.mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _sample_and_check(model_file, model, settings, model_dir, timings)
    messages = _report_warnings([*prepared.warnings, *caught])
    messages += list(outcome.diagnostics.attrs["warnings"])
    for message in messages:
        console.warning(f"{entry.name}: {message}")
    return html_report.ModelSection(
        name=entry.name,
        description=entry.description,
        meta=section_meta.model_meta(entry, model),
        settings=section_meta.settings_meta(
            settings, model, entry.likelihood, timings, model_dir, output.posterior
        ),
        priors=model.priors,
        comparison=outcome.comparison,
        diagnostics=outcome.diagnostics,
        images=outcome.images,
        warnings=messages,
        order=output.order,
        predictive=outcome.predictive,
        predictive_missing=outcome.predictive_missing,
        not_drawn=figures.not_drawn(output.plots, model),
    )


def _sample_and_check(
    model_file: modelfile.ModelFile,
    model: Model | GlmmModel,
    settings: modelfile.SamplerSettings,
    model_dir: Path,
    timings: dict[str, float],
) -> _Outcome:
    """Sample, compare, draw the posterior predictive and the plots, save the posterior."""
    output = model_file.output
    idata, timings["sampling"] = _timed(_sample, model, settings)
    comparison = _compare(model, idata, output)
    print(_comparison_text(comparison, output.order), flush=True)
    interval = _interval(comparison)
    (predictive, missing), seconds = _timed(_predictive, model, idata, settings.seed, interval)
    if predictive is not None:
        timings["posterior predictive"] = seconds
    diagnostics = diagnose(idata, warn=False)
    results = figures.ModelResults(model, idata, comparison, settings.seed)
    images = figures.model_images(output.plots, results, model_dir)
    if output.posterior:
        _, timings["saving the posterior"] = _timed(writing.save_posterior, idata, model_dir)
    return _Outcome(comparison, diagnostics, images, predictive, missing)


def _compare(
    model: Model | GlmmModel, idata: xr.DataTree, output: modelfile.OutputSettings
) -> Comparison | GlmmComparison:
    """The fit and the posterior side by side, with the file's posterior interval."""
    if isinstance(model, GlmmModel):
        return compare_glmm(model.fit, idata, ci_prob=output.ci_prob, ci_kind=output.ci_kind)
    return compare(model.reml, idata, ci_prob=output.ci_prob, ci_kind=output.ci_kind)


def _comparison_text(comparison: Comparison | GlmmComparison, order: str) -> str:
    if isinstance(comparison, Comparison):
        return comparison.to_text(order=order)  # type: ignore[arg-type]
    return str(comparison)


def _interval(comparison: Comparison | GlmmComparison) -> CredibleInterval:
    if isinstance(comparison, Comparison):
        return CredibleInterval(comparison.ci_prob, comparison.ci_kind)
    return comparison.interval


def _predictive(
    model: Model | GlmmModel, idata: xr.DataTree, seed: int | None, interval: CredibleInterval
) -> tuple[pd.DataFrame | None, str]:
    """Draw the posterior predictive into ``idata``; its checks, or None and why not."""
    if isinstance(model, GlmmModel):
        return None, GLMM_NO_PREDICTIVE
    try:
        model.sample_posterior_predictive(idata, random_seed=seed)
    except ModelError as error:  # e.g. replicates that would not fit in memory
        console.note(f"posterior predictive not drawn: {error}")
        return None, str(error).rstrip(".")
    return predictive_checks(idata, interval), ""


def _sample(model: Model | GlmmModel, settings: modelfile.SamplerSettings) -> xr.DataTree:
    """Sample ``model``; a partial sample (Ctrl-C, ``attrs["interrupted"]``) raises instead."""
    if settings.sampler == "nutpie":
        console.progress("  compiling the model for nutpie (10-20 s) ...")
        model.compile_nutpie()
    console.progress(
        f"  sampling {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning) with {settings.sampler}, {_sampled_as(model)} ..."
    )
    tree = model.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        random_seed=settings.seed,
        sampler=settings.sampler,
        progressbar=False,
        target_accept=settings.target_accept,
    )
    if interrupts.received() or interrupts.is_interrupted_tree(
        tree, settings.chains, settings.draws
    ):
        raise KeyboardInterrupt  # a partial sample is never reported
    return tree


def _sampled_as(model: Model | GlmmModel) -> str:
    """``"collapsed likelihood"``, or a GLMM's ``"binomial (logit) likelihood"``."""
    if isinstance(model, GlmmModel):
        return f"{model.family.name} ({model.family.link}) likelihood"
    return f"{model.likelihood} likelihood"


def _timed[T](function: Callable[..., T], *args: Any) -> tuple[T, float]:
    """What ``function(*args)`` returns, and the seconds it took."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _report_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Return bayeshier's own warnings (for the report); print other libraries' ones."""
    ours = (ConvergenceWarning, RankDeficiencyWarning, SamplingWarning)
    messages = []
    for record in caught:
        if issubclass(record.category, ours):
            messages.append(str(record.message))
        else:
            console.note(f"{record.category.__name__}: {record.message}")
    return list(dict.fromkeys(messages))
