"""Build the frozen :class:`ModelSpec` from a formula and a data frame.

:func:`build_spec` parses the formula (a formula is data, never code: see
:mod:`bayeshier.spec.formula`), learns the encodings from the rows
(:func:`~bayeshier.spec.build.spec_from_rows`) and drops aliased columns
(:func:`~bayeshier.spec.build.finish_spec`). Rows with a missing value in
any variable the model uses are dropped, like lme4's ``na.omit``, and
counted in ``ModelSpec.n_dropped``. For a Dask DataFrame
(``build_spec(..., lazy=True)``, see :mod:`bayeshier.spec.dask_rows`) the
spec holds no rows, only a :class:`RowSource` that applies the same
functions partition by partition.

This module also gathers the names other layers import.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bayeshier.errors import DataError
from bayeshier.spec.build import (
    FixedSums,
    finish_spec,
    fixed_sums,
    make_recipe,
    spec_from_rows,
    thin_r,
    weighted_rows,
)
from bayeshier.spec.factors import GroupingFactor
from bayeshier.spec.formula import ParsedFormula, parse_formula
from bayeshier.spec.frames import as_frame
from bayeshier.spec.recipe import Recipe
from bayeshier.spec.recipe import used_columns as _recipe_columns
from bayeshier.spec.specification import ModelSpec, RowSource, is_dask_frame

__all__ = [
    "FixedSums",
    "GroupingFactor",
    "ModelSpec",
    "RowSource",
    "as_frame",
    "build_spec",
    "finish_spec",
    "fixed_sums",
    "is_dask_frame",
    "spec_from_rows",
    "thin_r",
    "used_columns",
    "weighted_rows",
]

_DASK_NEEDS_LAZY = (
    "data is a Dask DataFrame. bayeshier.fit_reml and bayeshier.Model accept it (the rows are "
    "reduced to sufficient statistics where they live), but build_spec(..., lazy=False) "
    "needs the rows in memory: pass lazy=True, or data.compute() if they fit in memory."
)


def build_spec(
    formula: str | ParsedFormula,
    data: pd.DataFrame | Mapping[str, object] | object,
    *,
    lazy: bool = False,
    weights: object = None,
    offset: object = None,
    family: str | None = None,
) -> ModelSpec:
    """Parse ``formula`` and build the model specification from ``data``.

    Parameters
    ----------
    formula : str or ParsedFormula
        lme4-style formula, e.g. ``"Reaction ~ Days + I(Days^2) + (Days|Subject)"``.
        It is parsed and checked against the allowlist before anything is
        evaluated (see :mod:`bayeshier.spec.allowlist`).
    data : pandas.DataFrame, dask.dataframe.DataFrame, dict or frame
        One row per observation. A Dask DataFrame needs ``lazy=True``. A
        dict of columns, a polars or pyarrow frame (anything with
        ``to_pandas()``) or a frame of the dataframe interchange protocol
        is converted to pandas first (:func:`~bayeshier.spec.frames.as_frame`).
        Column names must be unique.
    lazy : bool, default False
        Accept a Dask DataFrame: the spec then holds no rows, only their
        encodings and fixed-effects sums, computed where the data live
        (:mod:`bayeshier.spec.dask_rows`). A pandas DataFrame is always held
        in memory.
    weights : str, array-like or None
        Prior weights (lme4's ``weights=``: the residual variance of row
        ``i`` is ``sigma^2 / w_i``): a column name, an expression of
        columns (``"1/v"``), or one value per row of ``data``.
    offset : str, array-like or None
        An offset added to the linear predictor, on top of any
        ``offset()`` terms of the formula; given like ``weights``.
    family : str or None
        The response family the spec is for: ``None`` (Gaussian) needs a
        numeric response; ``"binomial"`` also takes ``cbind(successes,
        failures)`` and a two-level factor. With a family, as in glmer, a
        grouping factor may have one row per level (``(1|obs)`` for
        overdispersion), weights may be 0, and a constant response is left
        to the family's own checks; a Gaussian spec refuses all three.

    Returns
    -------
    ModelSpec

    Raises
    ------
    FormulaError, DataError, ModelError
        With a message naming the column, term or value and what to do:
        among them a data type that is not a frame, duplicated column
        names, a constant response, a text column that is numbers but for
        a few values (a missing-value marker such as ``"."``), a column
        named ``Intercept`` beside the intercept, and values of different
        types that print as one level (``1`` and ``"1"``).

    """
    parsed = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    data = as_frame(data)
    if is_dask_frame(data):
        if not lazy:
            raise DataError(_DASK_NEEDS_LAZY)
        from bayeshier.spec.dask_rows import build_dask_spec

        return build_dask_spec(parsed, data, weights=weights, offset=offset, family=family)
    recipe = make_recipe(parsed, data, weights=weights, offset=offset, family=family)
    spec = spec_from_rows(recipe, data)
    return finish_spec(spec, fixed_sums(spec))


def used_columns(parsed: ParsedFormula | Recipe, data: pd.DataFrame) -> list[str]:
    """The columns of ``data`` the model uses; a missing one raises :class:`DataError`."""
    recipe = parsed if isinstance(parsed, Recipe) else Recipe(parsed)
    return _recipe_columns(recipe, data)
