"""The response, prior weights and offset of a GLMM, as the formula layer reads them.

:func:`~bayeshier.spec.model_spec.build_spec` (with ``family=``) parses
``cbind(successes, failures)``, a factor or logical response, ``offset(...)``
terms and the ``weights=`` / ``offset=`` arguments, and drops rows with a
missing value. This module turns what it returns into the per-row response
of the GLM family (a proportion and its trials for the binomial, a count for
the Poisson) and checks it, naming the rows at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.reml.glmm.checks import (
    check_bernoulli,
    check_counts,
    check_factor_levels,
    check_trials,
    check_weights,
)
from bayeshier.reml.glmm.families import Family
from bayeshier.spec.model_spec import ModelSpec, build_spec
from bayeshier.spec.specification import is_dask_frame

__all__ = ["GlmmData", "glmm_data", "looks_like_glmm_response"]

#: A whole-number response with at most this many distinct values looks like counts.
_FEW_COUNT_VALUES = 30
#: Above this a response is not taken for counts (and the tally stays small).
_LARGEST_COUNT = 100_000


@dataclass(frozen=True)
class GlmmData:
    """The spec of the model and the per-row response of the rows it kept.

    Attributes
    ----------
    spec : ModelSpec
        The model specification (``row_index`` holds the labels of the
        user's rows that are used).
    y : numpy.ndarray
        Proportion of successes (binomial) or count (Poisson).
    n : numpy.ndarray
        Binomial trials times prior weights, or the Poisson prior weights.
    offset : numpy.ndarray
        Offset of every row (zeros if none).
    response : str
        The left side as written (``"cbind(incidence, nonincidence)"``).

    """

    spec: ModelSpec
    y: np.ndarray
    n: np.ndarray
    offset: np.ndarray
    response: str


def glmm_data(
    formula: str,
    data: pd.DataFrame,
    family: Family,
    weights: str | np.ndarray | pd.Series | None = None,
    offset: str | np.ndarray | pd.Series | None = None,
) -> GlmmData:
    """Build the spec and read the response, trials / weights and offset of every row used.

    Raises
    ------
    FormulaError, ModelError
        From the formula layer (a ``cbind`` response with the Poisson family, ...).
    DataError
        For responses the family cannot take, naming the rows.

    """
    if is_dask_frame(data):
        raise DataError(
            "fit_glmm needs the rows in memory, and data is a Dask DataFrame: a GLMM is not "
            "reduced to sufficient statistics (each PIRLS step revisits every row). Pass "
            "data.compute(), or a sample of the rows, if they fit in memory; fit_reml and "
            "bayeshier.Model take a Dask DataFrame for a Gaussian response."
        )
    spec = build_spec(formula, data, family=family.name, weights=weights, offset=offset)
    index = spec.row_index
    prior = np.ones(spec.nobs) if spec.weights is None else np.asarray(spec.weights, float)
    check_weights(index, prior)
    y, n = _response(spec, family, prior)
    total_offset = np.zeros(spec.nobs) if spec.offset is None else np.asarray(spec.offset, float)
    return GlmmData(spec, y, n, total_offset, spec.response)


def _response(spec: ModelSpec, family: Family, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, n)``: proportion and trials x weights (binomial), or count and weights (Poisson)."""
    index, name = spec.row_index, spec.response
    values = np.asarray(spec.y, dtype=float)
    if spec.response_kind == "counts":
        trials = np.asarray(spec.trials, dtype=float)
        check_trials(index, values, trials, name)
        y = np.divide(values, trials, out=np.zeros_like(trials), where=trials > 0)
        return y, trials * prior
    if spec.response_kind == "factor":
        levels = getattr(spec.recipe.state.get(name), "labels", None)
        if levels is not None:
            check_factor_levels(tuple(levels), name)
        check_bernoulli(index, values, prior, name)
        return values, prior
    if family.name == "poisson":
        check_counts(index, values, name)
        return values, prior
    check_bernoulli(index, values, prior, name)
    return values, prior


def looks_like_glmm_response(y: np.ndarray) -> str | None:
    """Say why a response given to ``fit_reml`` looks like one for ``fit_glmm``.

    Returns a warning message for a response holding only 0 and 1 (binary)
    or one of non-negative whole numbers with zeros, few distinct values and a
    small mean (counts);
    ``None`` otherwise. Missing values are ignored.
    """
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.min() < 0 or values.max() > _LARGEST_COUNT:
        return None
    if not np.all(values == np.floor(values)):  # linear time: a continuous response stops here
        return None
    tally = np.bincount(values.astype(np.int64))
    distinct = np.flatnonzero(tally)
    if distinct.tolist() == [0, 1]:
        return (
            "The response takes only the values 0 and 1: a linear mixed model treats it as "
            "Gaussian. For a binary response use bayeshier.fit_glmm(formula, data, "
            "family='binomial')."
        )
    few = 2 < distinct.size <= _FEW_COUNT_VALUES
    if few and distinct[0] == 0 and values.mean() < 20.0:
        return (
            "The response holds non-negative whole numbers with zeros, like counts: a linear "
            "mixed model treats them as Gaussian. For counts use bayeshier.fit_glmm(formula, "
            "data, family='poisson')."
        )
    return None
    distinct = np.unique(values)
    if distinct.size == 2 and set(distinct.tolist()) == {0.0, 1.0}:
        return (
            "The response takes only the values 0 and 1: a linear mixed model treats it as "
            "Gaussian. For a binary response use bayeshier.fit_glmm(formula, data, "
            "family='binomial')."
        )
    integers = np.all(values >= 0) and np.all(values == np.round(values))
    few = 2 < distinct.size <= _FEW_COUNT_VALUES
    if integers and few and distinct[0] == 0.0 and values.mean() < 20.0:
        return (
            "The response holds non-negative whole numbers with zeros, like counts: a linear "
            "mixed model treats them as Gaussian. For counts use bayeshier.fit_glmm(formula, "
            "data, family='poisson')."
        )
    return None
