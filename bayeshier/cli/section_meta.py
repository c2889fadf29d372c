"""The two key/value tables at the top of a model's section in the report.

:func:`model_meta` says what was fitted (formula, data, rows, factors, the
REML fit, or for a GLMM the Laplace fit); :func:`settings_meta` how it was
sampled (sampler settings, parameterization, likelihood or family, timings,
where the posterior was saved). Both return plain strings for
:class:`bayeshier.cli.html_report.ModelSection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bayeshier.bayes.glmm import GlmmModel

if TYPE_CHECKING:
    from bayeshier._choices import Likelihood
    from bayeshier.bayes.model import Model
    from bayeshier.cli.modelfile import ModelEntry, SamplerSettings
    from bayeshier.reml import RemlFit

__all__ = ["likelihood_line", "model_meta", "settings_meta"]


def model_meta(entry: ModelEntry, model: Model | GlmmModel) -> dict[str, str]:
    """Formula, data, rows (and rows dropped), grouping factors and the REML fit of a model.

    Parameters
    ----------
    entry : ModelEntry
        The model as the file gives it.
    model : Model or GlmmModel
        The model built from it, fitted by REML (a GLMM: by Laplace).

    Returns
    -------
    dict of str to str

    """
    factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in model.spec.factors)
    fit = model.fit if isinstance(model, GlmmModel) else model.reml
    rows = f"{model.spec.nobs}"
    if fit.n_dropped:
        rows += f" ({fit.n_dropped} rows with missing values dropped)"
    meta = {"formula": entry.formula, "data": entry.data, "rows": rows}
    meta["grouping factors"] = factors
    if isinstance(model, GlmmModel):
        singular = "; singular fit (a group sd at 0)" if fit.is_singular else ""
        meta["family"] = f"{model.family.name} ({model.family.link} link)"
        meta["Laplace fit"] = (
            f"logLik {fit.loglik:.4f}, deviance {fit.deviance:.4f} (glmer's Laplace "
            f"approximation, nAGQ = {fit.nagq}){singular}"
        )
    else:
        meta["REML fit"] = _reml_line(model.reml)
    return meta


def _reml_line(fit: RemlFit) -> str:
    singular = "; singular fit (a group sd at 0)" if fit.is_singular else ""
    return f"REML criterion {fit.criterion:.4f}, sigma {fit.sigma:.4g}{singular}"


def settings_meta(
    settings: SamplerSettings,
    model: Model | GlmmModel,
    asked: Likelihood,
    timings: Mapping[str, float],
    model_dir: Path,
    posterior: bool,
) -> dict[str, str]:
    """Sampler settings, parameterization, likelihood, timings and the saved posterior.

    Parameters
    ----------
    settings : SamplerSettings
        The settings the model was sampled with (file, ``--quick`` and flags merged).
    model : Model or GlmmModel
        The sampled model.
    asked : {"auto", "full", "collapsed"}
        The likelihood the file (or ``--likelihood``) asked for.
    timings : mapping of str to float
        Seconds per step, in the order the steps ran.
    model_dir : pathlib.Path
        The model's output folder (its name is the link in the report).
    posterior : bool
        Whether the posterior was saved there as zarr.

    Returns
    -------
    dict of str to str

    """
    accept = settings.target_accept or model.default_target_accept()
    sampling = (
        f"{settings.sampler}, {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning), target_accept {accept:g}, seed {settings.seed}"
    )
    meta = {
        "sampler": sampling,
        "parameterization": ", ".join(f"{k}: {v}" for k, v in model.parameterization.items()),
        "likelihood": likelihood_line(model, asked),
        "time": ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()),
    }
    if posterior:
        path = f"{model_dir.name}/posterior.zarr"
        meta["posterior"] = (
            f"{path} next to this report: xarray.open_datatree({path!r}, engine='zarr')"
        )
    return meta


def likelihood_line(model: Model | GlmmModel, asked: Likelihood) -> str:
    """Which likelihood was sampled (``Model.likelihood``), what was asked for, and what it means.

    E.g. ``collapsed (asked: auto): effects of g integrated out of the sampled
    likelihood, drawn from their exact conditional posterior after sampling``.
    A GLMM's: its family and how many cells its rows were aggregated into.
    """
    if isinstance(model, GlmmModel):
        cells = model.cells
        return (
            f"{model.family.name} ({model.family.link} link): {cells.n_rows} rows aggregated "
            f"into {cells.n_cells} cells of equal fixed-effect row and group levels (exact); "
            "every group effect sampled by NUTS"
        )
    asked_note = f" (asked: {asked})" if asked != model.likelihood else ""
    if model.likelihood == "full":
        return f"full{asked_note}: every group effect sampled by NUTS"
    integrated = [k for k, v in model.parameterization.items() if v == "collapsed"]
    return (
        f"collapsed{asked_note}: effects of {', '.join(integrated)} integrated out of the sampled "
        "likelihood, drawn from their exact conditional posterior after sampling"
    )
