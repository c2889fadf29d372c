"""The two key/value tables at the top of a model's section in the report.

:func:`model_meta` says what was fitted (formula, data, rows, factors, the
REML fit); :func:`settings_meta` how it was sampled (sampler settings,
parameterization, likelihood, timings, where the posterior was saved). Both
return plain strings for :class:`bayeshier.cli.html_report.ModelSection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayeshier._choices import Likelihood
    from bayeshier.bayes.model import Model
    from bayeshier.cli.modelfile import ModelEntry, SamplerSettings
    from bayeshier.reml import RemlFit

__all__ = ["likelihood_line", "model_meta", "settings_meta"]


def model_meta(entry: ModelEntry, model: Model) -> dict[str, str]:
    """Formula, data, rows (and rows dropped), grouping factors and the REML fit of a model.

    Parameters
    ----------
    entry : ModelEntry
        The model as the file gives it.
    model : Model
        The model built from it, fitted by REML.

    Returns
    -------
    dict of str to str

    """
    factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in model.spec.factors)
    rows = f"{model.spec.nobs}"
    if model.reml.n_dropped:
        rows += f" ({model.reml.n_dropped} rows with missing values dropped)"
    return {
        "formula": entry.formula,
        "data": entry.data,
        "rows": rows,
        "grouping factors": factors,
        "REML fit": _reml_line(model.reml),
    }


def _reml_line(fit: RemlFit) -> str:
    singular = "; singular fit (a group sd at 0)" if fit.is_singular else ""
    return f"REML criterion {fit.criterion:.4f}, sigma {fit.sigma:.4g}{singular}"


def settings_meta(
    settings: SamplerSettings,
    model: Model,
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
    model : Model
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


def likelihood_line(model: Model, asked: Likelihood) -> str:
    """Which likelihood was sampled (``Model.likelihood``), what was asked for, and what it means.

    E.g. ``collapsed (asked: auto): effects of g integrated out of the sampled
    likelihood, drawn from their exact conditional posterior after sampling``.
    """
    asked_note = f" (asked: {asked})" if asked != model.likelihood else ""
    if model.likelihood == "full":
        return f"full{asked_note}: every group effect sampled by NUTS"
    integrated = [k for k, v in model.parameterization.items() if v == "collapsed"]
    return (
        f"collapsed{asked_note}: effects of {', '.join(integrated)} integrated out of the sampled "
        "likelihood, drawn from their exact conditional posterior after sampling"
    )
