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
   for a pandas DataFrame (:func:`bayeshier.spec.model_spec.spec_from_rows`): grouping
   levels in R's order (the categories' order for a categorical, sorted
   values otherwise), formulaic's encoding of the fixed part.
2. **Fixed effects.** :func:`bayeshier.spec.model_spec.fixed_sums` of every partition:
   the ``R`` of a thin QR of ``X`` (combined by a QR of the stacked factors:
   TSQR), ``X'y``, the row and level counts. The client decides which
   columns are aliased (:func:`bayeshier.spec.model_spec.finish_spec`).
3. **Sufficient statistics.** :func:`bayeshier.reml.crossprod.row_sums` of
   every partition, given the OLS coefficients: the per-level grams and sums
   of the largest factor, the sparse ``Zr'Z1``, the ``Zr'Zr`` and ``Zr'[X e]``
   of the others. The optimizer then runs on the client on these sums only.

Every partition is encoded by :meth:`bayeshier.spec.model_spec.ModelSpec.with_rows`,
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

Limits: formulaic's stateful transforms (``center(x)``, ``scale(x)``,
``poly(x)``, splines) learn their state from the whole data, which bayeshier
does not compute on Dask: add the transformed column to the frame instead.
"""

from __future__ import annotations

import ast
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.parser.types import Factor

from bayeshier.errors import DataError
from bayeshier.spec.formula import ParsedFormula
from bayeshier.spec.model_spec import (
    ModelSpec,
    complete_rows,
    finish_spec,
    fixed_sums,
    spec_from_rows,
    used_columns,
)

__all__ = ["DaskRows", "LevelSummary", "build_dask_spec"]


Columns = tuple[str, ...]


@dataclass(frozen=True, eq=False)
class DaskRows:
    """The rows of a spec, held in a Dask DataFrame (a :class:`bayeshier.spec.model_spec.RowSource`).

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


def build_dask_spec(parsed: ParsedFormula, data: dd.DataFrame) -> ModelSpec:
    """Build the spec of a Dask DataFrame: encodings and fixed-effects sums, no rows.

    Parameters
    ----------
    parsed : ParsedFormula
        The parsed formula.
    data : dask.dataframe.DataFrame
        The data; two passes over its partitions (levels, then fixed-effects sums).

    Returns
    -------
    ModelSpec
        Without rows; its ``source`` reduces the partitions on demand.

    """
    columns = used_columns(parsed, data)
    source = DaskRows(data[columns])
    meta = source.frame._meta
    groups = _level_groups(parsed, source.frame._meta_nonempty, columns)
    summary = source.reduce(partition_levels, parsed, columns, groups)
    structure = spec_from_rows(parsed, summary.prototype(meta)).without_rows()
    _check_stateless(structure)
    _check_covered(structure, groups)
    sums = source.reduce_rows(structure, fixed_sums)
    return finish_spec(structure, sums, replace(source, nobs=sums.nobs))


def partition_levels(
    part: pd.DataFrame, parsed: ParsedFormula, columns: list[str], groups: list[Columns]
) -> LevelSummary:
    """The :class:`LevelSummary` of one partition."""
    frame, _ = complete_rows(part, columns)
    if _has_transforms(parsed):  # rows whose transform is NaN are dropped, as in pandas
        kept = _kept_rows(parsed, frame)
        frame = frame.iloc[kept].reset_index(drop=True)
    categories = {
        column: list(part[column].cat.categories)
        for column in columns
        if isinstance(part[column].dtype, pd.CategoricalDtype)
    }
    distinct = {group: _distinct(group, [frame]) for group in groups}
    return LevelSummary(n_rows=len(part), distinct=distinct, categories=categories)


def _kept_rows(parsed: ParsedFormula, frame: pd.DataFrame) -> np.ndarray:
    """Positions of the complete rows whose fixed part formulaic can evaluate (no NaN)."""
    matrices = Formula(parsed.fixed_formula).get_model_matrix(
        frame, na_action="drop", output="pandas"
    )
    return matrices.rhs.index.to_numpy()


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


def _level_groups(parsed: ParsedFormula, meta: pd.DataFrame, columns: list[str]) -> list[Columns]:
    """Groups of columns whose distinct values the level pass collects.

    The variables of every grouping factor, and all of them together (the
    cells of :attr:`bayeshier.spec.model_spec.ModelSpec.level_combinations`); every used
    column that is not numeric; and the columns behind every term formulaic encodes as
    categorical (``C(cyl)`` on a numeric column), found by evaluating the
    formula on Dask's fake rows ``meta``.
    """
    groups = {term.variables for term in parsed.random}
    if len(groups) > 1:  # the combinations of all factors' levels: the likelihood's cells
        groups.add(tuple(sorted({variable for group in groups for variable in group})))
    groups |= {(column,) for column in columns if not _numeric(meta[column])}
    for expression in _categorical_terms(parsed, meta):
        referenced = _referenced_columns(expression, columns)
        if referenced:
            groups.add(referenced)
    return sorted(groups)


def _categorical_terms(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    """The expressions formulaic encodes as categorical in the fixed part and the bars."""
    expressions = []
    for text in [parsed.fixed_formula, *(f"~ {term.expr}" for term in parsed.random)]:
        try:
            with np.errstate(all="ignore"):
                matrices = Formula(text).get_model_matrix(data, na_action="ignore")
        except Exception:  # the check on the real prototype follows
            continue
        for spec in _specs(matrices.model_spec):
            expressions.extend(
                name
                for name, (kind, _) in spec.encoder_state.items()
                if kind is Factor.Kind.CATEGORICAL
            )
    return expressions


def _specs(model_spec: Any) -> list[Any]:
    """The formulaic model specs inside a (possibly structured) spec."""
    if hasattr(model_spec, "encoder_state"):
        return [model_spec]
    return [model_spec.lhs, model_spec.rhs]


def _referenced_columns(expression: str, columns: list[str]) -> Columns:
    if expression in columns:
        return (expression,)
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return ()
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return tuple(sorted(names & set(columns)))


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not isinstance(
        column.dtype, pd.CategoricalDtype
    )


def _has_transforms(parsed: ParsedFormula) -> bool:
    """Whether the fixed part evaluates Python (a transform may turn a value into NaN)."""
    formula = Formula(parsed.fixed_formula)
    factors = [f for side in (formula.lhs, formula.rhs) for term in side for f in term.factors]
    return any(factor.eval_method is Factor.EvalMethod.PYTHON for factor in factors)


def _check_stateless(spec: ModelSpec) -> None:
    """Refuse formulaic's stateful transforms: their state would come from the prototype."""
    specs = [spec.formulaic_specs.lhs, spec.formulaic_specs.rhs]
    specs += [block for factor in spec.factors for block in factor.design_specs]
    stateful = sorted({name for block in specs for name in block.transform_state})
    if stateful:
        raise DataError(
            f"The formula uses {', '.join(map(repr, stateful))}, a transform whose state "
            "(a mean, a scale, knots) comes from the whole data; bayeshier does not compute "
            "it on a Dask DataFrame. Add the transformed column to the frame first, e.g. "
            "ddf['x_c'] = ddf['x'] - ddf['x'].mean(), and use it in the formula."
        )


def _check_covered(spec: ModelSpec, groups: list[Columns]) -> None:
    """Every categorical term's columns had their distinct values collected."""
    specs = [spec.formulaic_specs.rhs, *(b for f in spec.factors for b in f.design_specs)]
    for block in specs:
        for name, (kind, _) in block.encoder_state.items():
            if kind is not Factor.Kind.CATEGORICAL:
                continue
            referenced = set(_referenced_columns(name, list(spec.columns)))
            if not any(referenced <= set(group) for group in groups):
                raise DataError(
                    f"The term {name!r} is categorical, which bayeshier could not tell from "
                    "the Dask DataFrame's column types, so its levels were not collected. "
                    f"Convert {', '.join(map(repr, sorted(referenced)))} to a category first, "
                    "e.g. ddf[col] = ddf[col].astype('category')."
                )
