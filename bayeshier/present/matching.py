"""Does a posterior belong to a REML fit? :func:`check_same_model` says, or says why not.

:func:`bayeshier.compare` sets a REML fit beside a posterior row by row; both
must be of the same formula on the same rows, or the table silently mixes two
models (a posterior of ``y ~ x + (1|g)`` beside a fit of ``y ~ 1 + (1|g)``
would lose ``x``). The checks, in order, each a :class:`ModelError` naming
both sides (formula and rows) and what to pass instead:

1. the formula: the posterior's ``attrs["formula"]`` against the fit's
   (spaces ignored), when the posterior records one;
2. the rows: their number, and the ``observed_data`` values against the
   fit's response (``constant_data``'s length when there is no
   ``observed_data``);
3. the variables: ``beta``, each factor's effects and ``sd_<factor>``
   (``corr_<factor>`` with correlated terms) and ``sigma``;
4. the coordinates: the fixed-effect terms (``fixed``), and each factor's
   levels (``<factor>_level``) and terms (``<factor>_term``), as sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bayeshier.errors import DataError, ModelError

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier.present.saved import SavedPosterior
    from bayeshier.reml import RemlFit

__all__ = ["check_same_model", "describe_fit", "describe_posterior"]

#: Observed values closer than this (relative) to the fit's response count as equal.
OBSERVED_RTOL = 1e-9
#: How many differing names a message lists before "...".
LISTED = 6


def describe_fit(fit: RemlFit) -> str:
    """``"the REML fit is of 'y ~ x + (1|g)' on 200 rows"``."""
    method = "REML" if fit.reml else "ML"
    return f"the {method} fit is of {fit.spec.formula.text!r} on {fit.nobs} rows"


def describe_posterior(saved: SavedPosterior) -> str:
    """``"the posterior is of 'y ~ x + (1|g)' on 200 rows"``, saying what it does not record."""
    formula, nobs = saved.formula, saved.nobs
    if formula is not None and nobs is not None:
        return f"the posterior is of {formula!r} on {nobs} rows"
    if formula is not None:
        return f"the posterior is of {formula!r} (its rows not recorded)"
    if nobs is not None:
        return f"the posterior is on {nobs} rows (its formula not recorded)"
    return "the posterior records neither its formula nor its rows"


def check_same_model(fit: RemlFit, saved: SavedPosterior) -> None:
    """Raise :class:`ModelError` unless ``saved`` is a posterior of ``fit``'s model and rows.

    Parameters
    ----------
    fit : RemlFit
        The REML fit.
    saved : SavedPosterior
        From :func:`bayeshier.present.saved.read_posterior`.

    Raises
    ------
    ModelError
        The first difference found (see the module notes), naming both sides.
    DataError
        A posterior variable lacks the dimension its coordinates live on.

    """
    for check in (_formula_difference, _row_difference, _variable_difference, _term_difference):
        difference = check(fit, saved)
        if difference:
            raise ModelError(
                f"The REML fit and the posterior are not of the same model and data: "
                f"{describe_fit(fit)}; {describe_posterior(saved)}. {difference} Compare a fit "
                "and a posterior of the same formula and data (fit_reml(formula, data) and "
                "Model(formula, data).sample()), or pass the posterior alone, "
                "compare(idata=idata), to rebuild its REML fit from its saved data."
            )


def _formula_difference(fit: RemlFit, saved: SavedPosterior) -> str:
    formula = saved.formula
    if formula is None or _squeeze(formula) == _squeeze(fit.spec.formula.text):
        return ""
    return "The formulas differ."


def _squeeze(formula: str) -> str:
    return "".join(formula.split())


def _row_difference(fit: RemlFit, saved: SavedPosterior) -> str:
    nobs = saved.nobs
    if nobs is not None and nobs != fit.nobs:
        return f"The numbers of rows differ ({fit.nobs} vs {nobs})."
    observed = _observed_values(fit, saved)
    if observed is None or not fit.spec.holds_rows:
        return ""
    same = np.isclose(observed, fit.spec.y, rtol=OBSERVED_RTOL, atol=0.0)
    if same.all():
        return ""
    first = int(np.flatnonzero(~same)[0])
    return (
        f"The observed {fit.spec.response} differ in {int((~same).sum())} of {fit.nobs} rows "
        f"(the first at row {first}: {fit.spec.y[first]:.6g} in the fit, "
        f"{observed[first]:.6g} in the posterior's observed_data)."
    )


def _observed_values(fit: RemlFit, saved: SavedPosterior) -> np.ndarray | None:
    """The observed response of the posterior (the response's variable, or the only one)."""
    observed = saved.observed
    if observed is None:
        return None
    names = [str(name) for name in observed.data_vars]
    name = fit.spec.response if fit.spec.response in names else None
    if name is None and len(names) == 1:
        name = names[0]
    if name is None or observed[name].ndim != 1:
        return None
    return observed[name].to_numpy().astype(float)


def _variable_difference(fit: RemlFit, saved: SavedPosterior) -> str:
    factors = fit.spec.factors
    needed = [
        "beta",
        *(f.name for f in factors),
        *(f"sd_{f.name}" for f in factors),
        *(f"corr_{f.name}" for f in factors if any(size > 1 for size in f.blocks)),
        "sigma",
    ]
    names = [str(name) for name in saved.posterior.data_vars]
    missing = [name for name in needed if name not in names]
    if not missing:
        return ""
    return (
        f"The posterior lacks the variable(s) {_names(missing)} of the fit (it has: "
        f"{', '.join(names)})."
    )


def _term_difference(fit: RemlFit, saved: SavedPosterior) -> str:
    posterior = saved.posterior
    differences = [_set_difference("fixed-effect terms", list(fit.fixef.index),
                                   _labels(posterior["beta"], "fixed", "beta"))]  # fmt: skip
    for factor in fit.spec.factors:
        effects = posterior[factor.name]
        level_dim = f"{factor.name}_level"
        differences.append(
            _set_difference(
                f"levels of {factor.name}",
                list(factor.levels),
                _labels(effects, level_dim, factor.name),
            )
        )
        if not factor.intercept_only:
            term_dim = f"{factor.name}_term"
            differences.append(
                _set_difference(
                    f"random-effect terms of {factor.name}",
                    list(factor.terms),
                    _labels(effects, term_dim, factor.name),
                )
            )
    return " ".join(d for d in differences if d)


def _labels(variable: xr.DataArray, dim: str, name: str) -> list[str]:
    if dim not in variable.dims:
        raise DataError(
            f"Posterior variable {name!r} has no dimension {dim!r} (its dims: "
            f"{', '.join(map(str, variable.dims))}). Was it sampled by bayeshier.Model?"
        )
    if dim not in variable.coords:
        return [str(i) for i in range(variable.sizes[dim])]
    return [str(v) for v in variable[dim].to_numpy()]


def _set_difference(what: str, ours: list[str], theirs: list[str]) -> str:
    only_fit = [v for v in ours if v not in set(theirs)]
    only_posterior = [v for v in theirs if v not in set(ours)]
    if not only_fit and not only_posterior:
        return ""
    parts = []
    if only_fit:
        parts.append(f"only the fit has {_names(only_fit)}")
    if only_posterior:
        parts.append(f"only the posterior has {_names(only_posterior)}")
    return f"The {what} differ: {'; '.join(parts)}."


def _names(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:LISTED])
    return shown + (f" (and {len(values) - LISTED} more)" if len(values) > LISTED else "")
