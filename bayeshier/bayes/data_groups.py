"""The ``constant_data`` group: the model's data columns, so a saved posterior can be refitted.

:meth:`bayeshier.Model.sample` writes one variable per data column the
formula uses (``ModelSpec.columns``: response, predictors, grouping and
slope columns, the columns of ``weights=`` / ``offset=``), each along
``obs`` (the coordinates of ``observed_data``), holding the rows the model
used. Numeric and boolean columns keep their values; categorical and text
columns are written as text, and ``attrs["factor_levels"]`` is the JSON
object ``{column: [levels in order]}`` (a categorical's categories, a text
column's sorted distinct values). ``weights=`` / ``offset=`` given as values
are the variables ``(weights)`` / ``(offset)``; given as a column name or an
expression, their text goes to the DataTree's ``attrs["weights"]`` /
``attrs["offset"]`` (:func:`row_argument_attrs`). This is what
:func:`bayeshier.compare` reads to rebuild the REML fit
(``bayeshier/present/saved.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.bayes.names import obs_labels
from bayeshier.spec.model_spec import ModelSpec
from bayeshier.spec.tree import deparse

__all__ = ["constant_data", "model_rows", "row_argument_attrs"]


def model_rows(spec: ModelSpec, data: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of ``data`` the model used (None when they cannot be told apart)."""
    if spec.n_dropped == 0 and len(data) == spec.nobs:
        return data
    if data.index.is_unique:
        return data.loc[spec.row_index]
    return None


def _column(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """A column's values for ``constant_data`` and its levels (None for a numeric column)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = np.array([str(c) for c in values.cat.categories], dtype=object)
        return labels[values.cat.codes.to_numpy()], [str(c) for c in labels]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(), None
    text = np.array([str(v) for v in values.to_numpy()], dtype=object)
    return text, sorted(set(text))


def constant_data(spec: ModelSpec, data: pd.DataFrame) -> xr.Dataset | None:
    """The ``constant_data`` group of the model's rows (None if the rows cannot be told apart).

    Parameters
    ----------
    spec : ModelSpec
        The model's specification (its ``columns`` and retained rows).
    data : pandas.DataFrame
        The data the model was built from (at least ``spec.columns``).

    """
    rows = model_rows(spec, data)
    if rows is None:
        return None
    variables, levels = {}, {}
    for name in spec.columns:
        values, column_levels = _column(rows[name])
        variables[name] = ("obs", values)
        if column_levels is not None:
            levels[name] = column_levels
    variables.update(_row_argument_values(spec))
    dataset = xr.Dataset(variables, coords={"obs": obs_labels(spec)})
    dataset.attrs["factor_levels"] = json.dumps(levels)
    return dataset


def _row_argument_values(spec: ModelSpec) -> dict[str, tuple[str, np.ndarray]]:
    """``(weights)`` / ``(offset)``: ``weights=`` / ``offset=`` given as values, per used row."""
    recipe = spec.recipe
    found: dict[str, tuple[str, np.ndarray]] = {}
    if recipe is None:
        return found
    if recipe.weights_array is not None and spec.weights is not None:
        found["(weights)"] = ("obs", np.asarray(spec.weights, dtype=float))
    offset = recipe.offset_array
    if offset is not None and offset.index.is_unique:
        found["(offset)"] = ("obs", offset.reindex(spec.row_index).to_numpy(dtype=float))
    return found


def row_argument_attrs(spec: ModelSpec) -> dict[str, str]:
    """The DataTree ``attrs`` ``weights`` / ``offset``: their text when given as expressions."""
    recipe = spec.recipe
    attrs = {}
    for key in ("weights", "offset"):
        node = None if recipe is None else (recipe.weights if key == "weights" else recipe.offset)
        if node is not None:
            attrs[key] = deparse(node)
    return attrs
