"""A posterior as :func:`bayeshier.compare` reads it, in memory or saved and reloaded.

:meth:`bayeshier.Model.sample` returns an ``xarray.DataTree`` that may be
saved (``to_netcdf``, ``to_zarr``) and reopened (``xarray.open_datatree``).
:func:`read_posterior` takes what ``compare`` needs from it, whichever way it
came: the ``posterior`` group, the root ``attrs`` (``formula``; ``reml``, the
REML fit as JSON), ``observed_data`` and ``constant_data``, with text
coordinates and values as plain ``str`` (a netCDF or zarr round trip may
return fixed-width or numpy ``StringDType`` arrays).

:func:`refit` rebuilds the REML fit from a posterior alone
(``compare(idata=...)``): the data frame from ``constant_data``, refitted with
:func:`bayeshier.fit_reml` (a binomial or Poisson GLMM's with
:func:`bayeshier.fit_glmm`, its family, link and ``nagq`` from ``attrs``) and
checked against ``attrs["reml"]``.

What ``constant_data`` holds (written by ``bayeshier.bayes``)
-------------------------------------------------------------
One variable per data column the formula uses (``ModelSpec.columns``:
response, predictors, grouping and slope columns), each one-dimensional
along ``obs`` (the coordinates of ``observed_data``), holding the rows the
model used (after dropping incomplete rows). Numeric and boolean columns
keep their values; categorical and text columns are written as text, and
``constant_data.attrs["factor_levels"]`` is the JSON object
``{column: [levels in order]}`` (a categorical's categories; a text column's
sorted distinct values), so that the refit encodes levels, and picks
reference levels, as the original fit did.

A model fitted with ``weights=`` or ``offset=`` records them too: as text in
``attrs["weights"]`` / ``attrs["offset"]`` when they were given as a column
name or an expression of columns (those columns are then among the
variables), or as the variables ``(weights)`` / ``(offset)`` (one value per
row) when they were given as values. An ``offset()`` term of the formula
needs nothing more: it is recomputed from its columns. A GLMM's
``constant_data`` also holds every row's ``trials`` and whole ``offset``,
which the refit leaves out (they are named in ``attrs["derived"]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, ModelError
from bayeshier.reml import RemlFit, fit_reml
from bayeshier.reml.glmm import GlmmFit, fit_glmm
from bayeshier.reml.glmm.families import FAMILIES

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "REFIT_RTOL",
    "SavedPosterior",
    "read_posterior",
    "refit",
    "saved_frame",
]

#: Relative (and, near zero, absolute) tolerance of the refit against ``attrs["reml"]``.
REFIT_RTOL = 1e-6
#: The entries of ``attrs["reml"]`` the refit is checked against.
CHECKED_ENTRIES = ("fixef", "se", "sigma", "theta")
#: Arguments of :func:`bayeshier.fit_reml` a saved posterior may record besides the formula.
ROW_ARGUMENTS = ("weights", "offset")


@dataclass(frozen=True)
class SavedPosterior:
    """The parts of a posterior DataTree that :func:`bayeshier.compare` reads.

    Attributes
    ----------
    posterior : xarray.Dataset
        The draws (text coordinates as ``str``).
    attrs : dict
        The DataTree's root ``attrs`` (empty for a bare Dataset).
    observed : xarray.Dataset or None
        The ``observed_data`` group.
    constant : xarray.Dataset or None
        The ``constant_data`` group (the model's data columns).

    """

    posterior: xr.Dataset
    attrs: dict[str, Any] = field(default_factory=dict)
    observed: xr.Dataset | None = None
    constant: xr.Dataset | None = None

    @property
    def formula(self) -> str | None:
        """The formula recorded in ``attrs["formula"]``, if any."""
        formula = self.attrs.get("formula")
        return None if formula is None else _text(formula)

    @property
    def nobs(self) -> int | None:
        """Rows of the model, from ``observed_data`` or ``constant_data`` (None if neither)."""
        for group in (self.observed, self.constant):
            if group is not None and "obs" in group.sizes:
                return int(group.sizes["obs"])
        return None

    def reml_record(self) -> dict[str, Any] | None:
        """``attrs["reml"]`` (the REML fit at sampling time) as a dict, if recorded."""
        record = self.attrs.get("reml")
        if record is None or isinstance(record, dict):
            return record
        try:
            return json.loads(_text(record))
        except json.JSONDecodeError as error:
            raise DataError(
                f"attrs['reml'] of the posterior is not JSON ({error}): it should be the REML "
                "fit that Model.sample() records; pass the fit instead, compare(fit, idata)."
            ) from None


def read_posterior(idata: Any) -> SavedPosterior | None:
    """The posterior of a DataTree (or InferenceData, or bare posterior Dataset); None for None."""
    if idata is None:
        return None
    import xarray as xr  # only with a posterior: ``import bayeshier`` does not load xarray

    if isinstance(idata, xr.Dataset):
        return SavedPosterior(plain_text(idata))
    if isinstance(idata, xr.DataTree):
        if "posterior" not in idata.children:
            raise DataError("idata has no posterior group: pass the result of Model.sample().")
        return SavedPosterior(
            posterior=plain_text(idata["posterior"].to_dataset()),
            attrs=dict(idata.attrs),
            observed=_group(idata, "observed_data"),
            constant=_group(idata, "constant_data"),
        )
    posterior = getattr(idata, "posterior", None)
    if posterior is None:
        raise DataError(
            f"Cannot read a posterior from a {type(idata).__name__}: pass the DataTree "
            "returned by Model.sample()."
        )
    dataset = posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior
    return SavedPosterior(plain_text(dataset), attrs=dict(getattr(idata, "attrs", {}) or {}))


def _group(tree: xr.DataTree, name: str) -> xr.Dataset | None:
    if name not in tree.children:
        return None
    group = tree[name].to_dataset()
    return plain_text(group)


def plain_text(dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` with its text as ``str``: bytes decoded, numpy ``StringDType`` as objects.

    Fixed-width (``<U``) text and object arrays of ``str`` are left as they are,
    so a Dataset that needs nothing comes back unchanged (the same object).
    """
    converted = {
        name: (variable.dims, _as_str(variable.to_numpy()), variable.attrs)
        for name, variable in dataset.variables.items()
        if _needs_str(variable)
    }
    if not converted:
        return dataset
    coords = {name: value for name, value in converted.items() if name in dataset.coords}
    data = {name: value for name, value in converted.items() if name not in dataset.coords}
    return dataset.assign_coords(coords).assign(data)


def _needs_str(variable: xr.Variable) -> bool:
    kind = variable.dtype.kind
    if kind in "ST":  # bytes, numpy's StringDType (zarr 3)
        return True
    return kind == "O" and any(isinstance(v, bytes) for v in variable.to_numpy().ravel()[:1000])


def _as_str(values: np.ndarray) -> np.ndarray:
    flat = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]
    return np.array(flat, dtype=object).reshape(values.shape)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ================================================================ refit
def refit(saved: SavedPosterior) -> RemlFit | GlmmFit:
    """The REML (or Laplace) fit of a saved posterior, refitted from ``constant_data``, checked.

    Parameters
    ----------
    saved : SavedPosterior
        From :func:`read_posterior` of a DataTree returned by
        :meth:`bayeshier.Model.sample` (possibly saved and reopened).

    Returns
    -------
    RemlFit or GlmmFit
        ``fit_reml(attrs["formula"], frame)`` or, for the posterior of a
        binomial or Poisson GLMM (``attrs["family"]``), ``fit_glmm`` with the
        recorded family, link and ``nagq`` (the variables listed in
        ``constant_data.attrs["derived"]`` left out); its fixed effects,
        standard errors, sigma and theta equal ``attrs["reml"]`` to
        :data:`REFIT_RTOL`.

    Raises
    ------
    ModelError
        No ``attrs["formula"]``, no ``constant_data`` group, no ``attrs["reml"]``,
        or a refit that differs from it.

    """
    family = _text(saved.attrs.get("family", "gaussian"))
    fitter = "fit_glmm" if family in FAMILIES else "fit_reml"
    formula, record, constant = _refit_inputs(saved, fitter)
    frame = saved_frame(constant)
    derived = json.loads(_text(constant.attrs.get("derived", "[]")))
    frame = frame.drop(columns=[name for name in derived if name in frame.columns])
    given = {key: _row_argument(saved, frame, key) for key in ROW_ARGUMENTS}
    rows = {key: value for key, value in given.items() if value is not None}
    fit: RemlFit | GlmmFit
    if family in FAMILIES:
        link, nagq = _text(saved.attrs.get("link")), int(record.get("nagq", 1))
        fit = fit_glmm(formula, frame, family, link=link, nagq=nagq, **rows)
    else:
        reml = str(record.get("method", "REML")).upper() != "ML"
        fit = fit_reml(formula, frame, reml=reml, **rows)
    _check_refit(fit, record, formula)
    return fit


def _refit_inputs(saved: SavedPosterior, fitter: str) -> tuple[str, dict[str, Any], xr.Dataset]:
    """The formula, the fit's record and ``constant_data``, or a ModelError saying what lacks."""
    formula = saved.formula
    if formula is None:
        raise ModelError(
            "The posterior records no formula (attrs['formula']), so its fit cannot be "
            f"rebuilt: pass the fit as well, compare({fitter}(formula, data), idata)."
        )
    record = saved.reml_record()
    if saved.constant is None or record is None:
        missing = "constant_data group" if saved.constant is None else "attrs['reml']"
        raise ModelError(
            f"The posterior of {formula!r} has no {missing} (the model's data columns and the "
            "fit it was sampled with), so compare() cannot rebuild the fit from it. "
            f"Pass the fit as well: compare({fitter}({formula!r}, data), idata)."
        )
    return formula, record, saved.constant


def _row_argument(saved: SavedPosterior, frame: pd.DataFrame, key: str) -> Any:
    """``weights=`` / ``offset=`` of the refit: recorded text, or the ``(key)`` column's values."""
    column = f"({key})"
    if column in frame.columns:
        return frame.pop(column).to_numpy(dtype=float)
    value = saved.attrs.get(key)
    return None if value is None else _text(value)


def saved_frame(constant: xr.Dataset) -> pd.DataFrame:
    """The data frame held by ``constant_data``: categoricals in their recorded level order."""
    raw = constant.attrs.get("factor_levels", "{}")
    levels = raw if isinstance(raw, dict) else json.loads(_text(raw))
    columns = {}
    for name, variable in constant.data_vars.items():
        if variable.dims != ("obs",):
            raise DataError(
                f"constant_data variable {name!r} has dims {variable.dims}, not ('obs',): it "
                "should hold one data column over the model's rows."
            )
        values = variable.to_numpy()
        if str(name) in levels:
            values = pd.Categorical([str(v) for v in values], categories=levels[str(name)])
        columns[str(name)] = values
    index = constant["obs"].to_numpy() if "obs" in constant.coords else None
    return pd.DataFrame(columns, index=index)


def _check_refit(fit: RemlFit | GlmmFit, record: dict[str, Any], formula: str) -> None:
    """Raise :class:`ModelError` unless ``fit`` reproduces the recorded REML (Laplace) numbers."""
    ours = {
        "fixef": fit.fixef.to_dict(),
        "se": fit.se.to_dict(),
        "sigma": float(fit.sigma),
        "theta": [float(t) for t in np.asarray(fit.theta)],
    }
    differences = []
    for entry in CHECKED_ENTRIES:
        if entry in record and not _close(ours[entry], record[entry]):
            refitted, saved = _brief(ours[entry]), _brief(record[entry])
            differences.append(f"{entry}: refit {refitted}, saved {saved}")
    if differences:
        raise ModelError(
            f"The REML fit rebuilt from the posterior's constant_data ({formula!r}, "
            f"{fit.nobs} rows) differs from the fit it was sampled with (attrs['reml']): "
            f"{'; '.join(differences)}. The saved data are not those of the sample; pass the "
            f"fit as well: compare({_fitter(fit)}(formula, data), idata)."
        )


def _fitter(fit: RemlFit | GlmmFit) -> str:
    """The function that makes fits like ``fit``."""
    return "fit_glmm" if isinstance(fit, GlmmFit) else "fit_reml"


def _close(ours: Any, saved: Any) -> bool:
    if isinstance(saved, dict):
        if not isinstance(ours, dict) or set(ours) != set(saved):
            return False
        return all(_close(ours[key], saved[key]) for key in saved)
    a = np.atleast_1d(np.asarray(ours, dtype=float))
    b = np.atleast_1d(np.asarray(saved, dtype=float))
    return a.shape == b.shape and bool(
        np.allclose(a, b, rtol=REFIT_RTOL, atol=REFIT_RTOL, equal_nan=True)
    )


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_brief(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    return f"{float(value):.7g}"
