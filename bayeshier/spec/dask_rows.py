"""Fit on a Dask DataFrame: the rows stay where they are, only sums travel.

``bayeshier.fit_reml(formula, dask_frame)`` (or ``build_spec(formula,
dask_frame, lazy=True)`` then :func:`bayeshier.reml.fit_spec`) reads the data
in three passes over the partitions, each a map over partitions and a
reduction by addition (a binary tree of ``+`` on the workers); the client
receives only the reduced result:

1. **Levels.** Each partition's complete rows (no missing value in a used
   column, no NaN made by a transform) give their distinct values of every
   grouping variable and categorical predictor, and the categories of its
   categorical columns. From their union the client builds a small
   prototype frame holding every level, and from it the encodings exactly as
   for a pandas DataFrame (:func:`bayeshier.spec.build.spec_from_rows`): levels
   in R's order (the categories' order for a categorical, sorted values
   otherwise), the designs of the fixed part and of the random effects.
2. **Fixed effects.** :func:`bayeshier.spec.build.fixed_sums` of every partition:
   the ``R`` of a thin QR of the weighted ``X`` (combined by a QR of the
   stacked factors: TSQR), ``X'W(y - offset)``, the row and level counts.
   The client decides which columns are aliased
   (:func:`bayeshier.spec.build.finish_spec`).
3. **Sufficient statistics.** :func:`bayeshier.reml.crossprod.row_sums` of
   every partition, given the OLS coefficients: the per-level grams and sums
   of the largest factor, the sparse ``Zr'Z1``, the ``Zr'Zr`` and ``Zr'[X e]``
   of the others. The optimizer then runs on the client on these sums only.

Every partition is encoded by :meth:`bayeshier.spec.specification.ModelSpec.with_rows`,
the function that encodes a pandas DataFrame's chunks, and reduced by the
functions the pandas path uses on its single chunk, so both paths give the
same numbers (up to the order of floating-point additions).

Dask runs the passes on the current default scheduler: the
``dask.distributed.Client`` created last in this process (e.g.
``Client("tcp://scheduler:8786")``), else Dask's local threads.

``bayeshier.Model(formula, dask_frame)`` builds the same spec, then two
more passes of the same kind: the columns' moments for the priors
(:func:`bayeshier.bayes.moments.row_moments`) and the likelihood's per-cell sums
(:func:`bayeshier.bayes.cell_sums.chunk_cell_sums`), after its REML fit's pass 3.
NUTS then runs on the client from the sums alone.

Per-row results are not brought back: :attr:`RemlFit.fitted` and
:attr:`RemlFit.residuals` are lazy Dask Series (computed on demand, indexed
like the rows used), and the summary leaves out the quantiles of the scaled
residuals.

Limits: the stateful transforms (``center(x)``, ``scale(x)``, orthogonal
``poly(x, k)``) learn their state from the whole data, which bayeshier does
not compute on Dask: add the transformed column to the frame instead
(``poly(x, k, raw = TRUE)`` is stateless and works). Weights and offsets
must be columns (or expressions of columns), not arrays.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.spec.allowlist import function_of, literal_value, names_in
from bayeshier.spec.build import finish_spec, fixed_sums, make_recipe, spec_from_rows
from bayeshier.spec.columns import column_kind, variable_kind
from bayeshier.spec.formula import ParsedFormula
from bayeshier.spec.recipe import Recipe, used_columns
from bayeshier.spec.rows import complete_rows
from bayeshier.spec.specification import ModelSpec
from bayeshier.spec.tree import Call, Node, deparse, walk

__all__ = ["DaskRows", "LevelSummary", "build_dask_spec"]


Columns = tuple[str, ...]


@dataclass(frozen=True, eq=False)
class DaskRows:
    """A spec's rows, held in a Dask DataFrame (a :class:`~bayeshier.spec.model_spec.RowSource`).

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        The user's frame, restricted to the columns the model uses.
    nobs : int
        Number of rows used.
    passes : list of (str, float)
        Every pass over the partitions so far: the name of the function
        reduced (``partition_levels``, ``fixed_sums``, ``row_sums``) and its
        wall time in seconds.

    """

    frame: dd.DataFrame
    nobs: int = 0
    passes: list[tuple[str, float]] = field(default_factory=list, repr=False)

    def reduce[T](self, function: Callable[..., T], *args: Any) -> T:
        """Sum ``function(partition, *args)`` over the partitions (see :func:`map_reduce`)."""
        return self._timed(function.__name__, function, *args)

    def reduce_rows[T](self, spec: ModelSpec, function: Callable[..., T], *args: Any) -> T:
        """Sum ``function(spec.with_rows(partition), *args)`` over the partitions."""
        return self._timed(function.__name__, _on_rows, _detached(spec), function, *args)

    def _timed[T](self, name: str, function: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        total = map_reduce(self.frame, function, *args)
        self.passes.append((name, time.perf_counter() - started))
        return total

    def map_rows(
        self, spec: ModelSpec, function: Callable[..., np.ndarray], *args: Any, name: str
    ) -> dd.Series:
        """Lazily apply ``function(spec.with_rows(partition), *args)``: a Dask Series."""
        meta = pd.Series(np.zeros(0), index=self.frame._meta.index[:0], name=name)
        return self.frame.map_partitions(
            _rows_series, _detached(spec), function, args, name, meta=meta
        )


@dataclass(frozen=True, eq=False)
class LevelSummary:
    """What the partitions' complete rows tell about levels; summaries add up with ``+``.

    Attributes
    ----------
    n_rows : int
        Rows read.
    distinct : dict of tuple of str to pandas.DataFrame
        For every group of columns whose values are levels (the variables of
        a grouping factor, the columns of a categorical predictor), the
        complete rows (all used columns) with distinct values of the group.
    categories : dict of str to list
        Categories of every categorical column, in order of first appearance.

    """

    n_rows: int
    distinct: dict[Columns, pd.DataFrame]
    categories: dict[str, list] = field(default_factory=dict)

    def __add__(self, other: LevelSummary) -> LevelSummary:
        return LevelSummary(
            n_rows=self.n_rows + other.n_rows,
            distinct={
                group: _distinct(group, [rows, other.distinct[group]])
                for group, rows in self.distinct.items()
            },
            categories={
                column: list(dict.fromkeys([*values, *other.categories[column]]))
                for column, values in self.categories.items()
            },
        )

    def prototype(self, meta: pd.DataFrame) -> pd.DataFrame:
        """A small frame holding every level, with the union of the categories as dtype."""
        prototype = _distinct((), list(self.distinct.values()))
        for column, categories in self.categories.items():
            dtype = pd.CategoricalDtype(categories, ordered=meta[column].dtype.ordered)
            prototype[column] = pd.Categorical(np.asarray(prototype[column]), dtype=dtype)
        return prototype


def build_dask_spec(
    parsed: ParsedFormula,
    data: dd.DataFrame,
    *,
    weights: object = None,
    offset: object = None,
    family: str | None = None,
) -> ModelSpec:
    """Build the spec of a Dask DataFrame: encodings and fixed-effects sums, no rows.

    Parameters
    ----------
    parsed : ParsedFormula
        The parsed formula.
    data : dask.dataframe.DataFrame
        The data; two passes over its partitions (levels, then fixed-effects sums).
    weights, offset : str or None
        Column names (or expressions of columns), as in :func:`build_spec`.
    family : str or None
        As in :func:`build_spec`.

    Returns
    -------
    ModelSpec
        Without rows; its ``source`` reduces the partitions on demand.

    """
    for what, value in (("weights", weights), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"With a Dask DataFrame, {what}= must be a column name (or an expression of "
                f"columns), not values: add them to the frame first, e.g. ddf['w'] = ..."
            )
    recipe = make_recipe(parsed, data, weights=weights, offset=offset, family=family)
    columns = used_columns(recipe, data)
    _check_stateless(recipe)
    source = DaskRows(data[columns])
    meta = source.frame._meta
    groups = _level_groups(recipe, source.frame._meta_nonempty, columns)
    summary = source.reduce(partition_levels, recipe, columns, groups)
    structure = spec_from_rows(recipe, summary.prototype(meta)).without_rows()
    sums = source.reduce_rows(structure, fixed_sums)
    return finish_spec(structure, sums, replace(source, nobs=sums.nobs))


def partition_levels(
    part: pd.DataFrame, recipe: Recipe, columns: list[str], groups: list[Columns]
) -> LevelSummary:
    """The :class:`LevelSummary` of one partition (its complete rows)."""
    frame = part[columns]
    mask = complete_rows(recipe, frame)
    if mask is not None:
        frame = frame[mask]
    categories = {
        column: list(part[column].cat.categories)
        for column in columns
        if isinstance(part[column].dtype, pd.CategoricalDtype)
    }
    distinct = {group: _distinct(group, [frame.reset_index(drop=True)]) for group in groups}
    return LevelSummary(n_rows=len(part), distinct=distinct, categories=categories)


def map_reduce[T](frame: dd.DataFrame, function: Callable[..., T], *args: Any) -> T:
    """``function(partition, *args)`` on every partition, added up in a binary tree.

    The additions run where the partitions are; only the total reaches the
    client. ``args`` are sent once per worker, not once per partition.
    """
    shared = [dask.delayed(arg, traverse=False) for arg in args]
    partials = [dask.delayed(function)(part, *shared) for part in frame.to_delayed()]
    while len(partials) > 1:
        pairs = zip(partials[0::2], partials[1::2], strict=False)
        added = [dask.delayed(operator.add)(left, right) for left, right in pairs]
        partials = added + partials[len(added) * 2 :]
    (total,) = dask.compute(partials[0])
    return total


def _on_rows[T](part: pd.DataFrame, spec: ModelSpec, function: Callable[..., T], *args: Any) -> T:
    return function(spec.with_rows(part), *args)


def _rows_series(
    part: pd.DataFrame,
    spec: ModelSpec,
    function: Callable[..., np.ndarray],
    args: tuple,
    name: str,
) -> pd.Series:
    rows = spec.with_rows(part)
    return pd.Series(function(rows, *args), index=rows.row_index, name=name)


def _detached(spec: ModelSpec) -> ModelSpec:
    """The spec without its row source, to send to the workers."""
    return replace(spec, source=None)


def _distinct(group: Columns, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of ``frames`` with distinct values of the ``group`` columns (all columns if empty)."""
    nonempty = [frame for frame in frames if len(frame)] or frames[:1]
    rows = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0]
    return rows.drop_duplicates(subset=list(group) or None, ignore_index=True)


def _level_groups(recipe: Recipe, meta: pd.DataFrame, columns: list[str]) -> list[Columns]:
    """Groups of columns whose distinct values the level pass collects.

    The variables of every grouping factor, and all of them together (the
    cells of :attr:`bayeshier.spec.specification.ModelSpec.level_combinations`);
    every used column that is not numeric; and the columns behind every
    factor variable (``factor(year)`` on a numeric column).
    """
    formula = recipe.formula
    groups = {_referenced(term.group, meta) for term in formula.random}
    if len(groups) > 1:  # the combinations of all factors' levels: the likelihood's cells
        groups.add(tuple(sorted({variable for group in groups for variable in group})))
    groups |= {(column,) for column in columns if column_kind(meta[column]) != "numeric"}
    nodes = dict(formula.fixed_terms.variables)
    for term in formula.random:
        nodes.update(term.terms.variables)
    for node in nodes.values():
        if variable_kind(node, meta) == "categorical":
            groups.add(_referenced((node,), meta))
    return sorted(group for group in groups if group)


def _referenced(nodes: tuple[Node, ...], meta: pd.DataFrame) -> Columns:
    """The columns ``nodes`` refer to, sorted."""
    names = {name.id for node in nodes for name in names_in(node) if name.id in meta.columns}
    return tuple(sorted(names))


def _check_stateless(recipe: Recipe) -> None:
    """Refuse the stateful transforms: their state would come from the prototype."""
    formula = recipe.formula
    nodes = [formula.lhs, *formula.fixed_terms.variables.values(), *formula.fixed_terms.offsets]
    nodes += [node for term in formula.random for node in term.terms.variables.values()]
    nodes += [node for node in (recipe.weights, recipe.offset) if node is not None]
    stateful = sorted({deparse(sub) for node in nodes for sub in walk(node) if _stateful(sub)})
    if stateful:
        raise DataError(
            f"The formula uses {', '.join(map(repr, stateful))}, a transform whose state "
            "(a mean, a scale, polynomial coefficients) comes from the whole data; bayeshier "
            "does not compute it on a Dask DataFrame. Add the transformed column to the frame "
            "first, e.g. ddf['x_c'] = ddf['x'] - ddf['x'].mean(), and use it in the formula."
        )


def _stateful(node: Node) -> bool:
    if not isinstance(node, Call):
        return False
    function = function_of(node)
    if function is None or function.name not in ("scale", "center", "poly"):
        return False
    raw = node.keyword("raw")
    return not (function.name == "poly" and raw is not None and literal_value(raw) is True)
