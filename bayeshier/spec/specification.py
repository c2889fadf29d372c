"""The frozen :class:`ModelSpec` that every engine consumes.

A spec holds the response, the fixed-effects design and one
:class:`~bayeshier.spec.factors.GroupingFactor` per grouping expression
(integer codes and level labels, never a dense indicator matrix), the prior
weights and the offset when the model has them, and the
:class:`~bayeshier.spec.rows.Recipe` that rebuilds every column for new
rows (``fixed_design``, ``with_rows``). It is built by
:func:`bayeshier.spec.model_spec.build_spec`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, ModelError, close_matches_hint
from bayeshier.spec.columns import check_columns
from bayeshier.spec.encode import build_matrix, check_seen, evaluate_design
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.factors import GroupingFactor
from bayeshier.spec.formula import ParsedFormula
from bayeshier.spec.recipe import Recipe, used_columns
from bayeshier.spec.rows import encode_rows

__all__ = ["ModelSpec", "RowSource", "is_dask_frame"]


class RowSource(Protocol):
    """Where the rows of a :class:`ModelSpec` live when the spec does not hold them.

    Attributes
    ----------
    nobs : int
        Number of rows used (complete rows).

    """

    nobs: int

    def reduce_rows[T](self, spec: ModelSpec, function: Callable[..., T], *args: Any) -> T:
        """Sum ``function(spec.with_rows(chunk), *args)`` over the chunks of rows."""
        ...

    def map_rows(
        self, spec: ModelSpec, function: Callable[..., np.ndarray], *args: Any, name: str
    ) -> Any:
        """Lazily apply ``function(spec.with_rows(chunk), *args)``: one value per used row."""
        ...


def is_dask_frame(data: object) -> bool:
    """Whether ``data`` is a Dask DataFrame (without importing Dask)."""
    module = sys.modules.get("dask.dataframe")
    return module is not None and isinstance(data, module.DataFrame)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything both engines need to know about a mixed model and its data.

    Attributes
    ----------
    formula : ParsedFormula
        The parsed formula.
    y : numpy.ndarray or None
        Response, one value per retained row (``None`` when the rows are in a
        Dask DataFrame: see :attr:`source`). For ``cbind(s, f)`` the
        successes; for a factor response, 1 where it is not the first level.
    X : numpy.ndarray or None
        Fixed-effects design (n x p), aliased columns removed.
    fixed_names : tuple of str
        Column names of ``X`` (``"Intercept"``, ``"class[T.suv]"``, ``"I(Days^2)"``).
    factors : tuple of GroupingFactor
        Grouping factors ordered as lme4 orders them: by number of levels,
        largest first (ties keep formula order).
    row_index : pandas.Index or None
        Index labels (of the user's DataFrame) of the retained rows.
    n_dropped : int
        Rows dropped because a used variable had a missing value.
    aliased : tuple of str
        Fixed-effect columns dropped as linear combinations of earlier ones.
    fixed_r : numpy.ndarray or None
        ``R`` of a thin QR of ``W^1/2 X`` (``X`` without weights).
    recipe : Recipe or None
        How the columns were made: rebuilds them for new rows.
    fixed_xty : numpy.ndarray or None
        ``X'W(y - offset)``.
    columns : tuple of str
        The data columns the model uses.
    source : RowSource or None
        Where the rows are when the spec does not hold them.
    cell_levels : numpy.ndarray or None
        Without rows: the distinct combinations of the factors' levels among
        the rows (cells x factors, see :attr:`level_combinations`).
    weights : numpy.ndarray or None
        Prior weights of the retained rows (residual variance ``sigma^2 / w``),
        ``None`` without weights.
    offset : numpy.ndarray or None
        Offset of the retained rows (``offset()`` terms and ``offset=`` added
        up), ``None`` without one.
    trials : numpy.ndarray or None
        For ``cbind(successes, failures)``: successes + failures.
    log_weights : float
        ``sum(log w)`` over the rows used (0 without weights): lme4's
        criterion subtracts it.

    """

    formula: ParsedFormula
    y: np.ndarray | None
    X: np.ndarray | None
    fixed_names: tuple[str, ...]
    factors: tuple[GroupingFactor, ...]
    row_index: pd.Index | None
    n_dropped: int = 0
    aliased: tuple[str, ...] = ()
    fixed_r: np.ndarray | None = field(default=None, repr=False)
    recipe: Recipe | None = field(default=None, repr=False)
    fixed_xty: np.ndarray | None = field(default=None, repr=False)
    columns: tuple[str, ...] = ()
    source: RowSource | None = field(default=None, repr=False)
    cell_levels: np.ndarray | None = field(default=None, repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    offset: np.ndarray | None = field(default=None, repr=False)
    trials: np.ndarray | None = field(default=None, repr=False)
    log_weights: float = 0.0

    @property
    def response(self) -> str:
        """The response as written in the formula (``"Reaction"``, ``"log(y)"``)."""
        return self.formula.response

    @property
    def response_kind(self) -> str:
        """``numeric``, ``counts`` (``cbind(successes, failures)``) or ``factor``."""
        return "numeric" if self.recipe is None else self.recipe.response_kind

    @property
    def has_weights(self) -> bool:
        """Whether the model has prior weights."""
        return self.recipe is not None and self.recipe.has_weights

    @property
    def has_offset(self) -> bool:
        """Whether the model has an offset."""
        return self.recipe is not None and self.recipe.has_offset

    @property
    def holds_rows(self) -> bool:
        """Whether the spec holds its rows (``y``, ``X``, codes) in memory."""
        return self.y is not None

    @property
    def nobs(self) -> int:
        """Number of rows used in the fit."""
        if self.y is None:
            return self.source.nobs
        return int(self.y.shape[0])

    @property
    def n_fixed(self) -> int:
        """Number of fixed-effect coefficients."""
        return len(self.fixed_names)

    @property
    def intercepts_only(self) -> bool:
        """Whether every grouping factor has a random intercept and nothing else."""
        return all(factor.intercept_only for factor in self.factors)

    def require_numeric_response(self, what: str) -> None:
        """Raise a :class:`ModelError` if the response is not numeric (a binomial response).

        For the Gaussian engines (``what`` names the engine, e.g. ``"bayeshier.Model"``).
        """
        if self.response_kind != "numeric":
            raise ModelError(
                f"The response {self.response!r} is a binomial response, which {what} does not "
                "fit: use bayeshier.fit_glmm(..., family='binomial')."
            )

    def factor(self, name: str) -> GroupingFactor:
        """Return the grouping factor called ``name``."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        known = [f.name for f in self.factors]
        raise DataError(
            f"The model has no grouping factor {name!r}.{close_matches_hint(name, known)} "
            f"Its factors are: {', '.join(known)}."
        )

    def fixed_design(self, data: pd.DataFrame) -> np.ndarray:
        """Build the fixed-effects design for new rows with the fitted encoding.

        Levels, ``scale``/``center``/``poly`` states are those of the fit;
        a level not seen in the fit raises a :class:`DataError` naming it;
        a row with a missing value gives a row of NaN; aliased columns are
        left out.
        """
        design = self.recipe.fixed
        evaluator = Evaluator(data, dict(self.recipe.state), learn=False, where="new data")
        values, missing = evaluate_design(design, evaluator)
        check_seen(values, "new data")
        X = build_matrix(design, values, len(data))
        X[missing] = np.nan
        return X[:, [design.names.index(name) for name in self.fixed_names]]

    def offset_for(
        self, data: pd.DataFrame, offset: np.ndarray | pd.Series | None = None
    ) -> np.ndarray | None:
        """The whole offset of new rows: ``offset`` (one value per row) or the model's own.

        The model's own is its ``offset(...)`` terms and ``offset=`` column
        evaluated on ``data`` (``None`` without one).

        Raises
        ------
        DataError
            ``offset`` without one value per row, or an ``offset=`` given as
            values to the fit and no ``offset`` here.

        """
        if offset is not None:
            values = np.asarray(offset, dtype=float).ravel()
            if values.shape[0] != len(data):
                raise DataError(
                    f"offset has {values.shape[0]} values for {len(data)} new rows: give one "
                    "per row."
                )
            return values
        recipe = self.recipe
        if recipe is None or not recipe.has_offset:
            return None
        evaluator = Evaluator(data, dict(recipe.state), learn=False, where="new data")
        parts = [evaluator.numeric(node) for node in recipe.formula.fixed_terms.offsets]
        if recipe.offset is not None:
            parts.append(evaluator.numeric(recipe.offset))
        if recipe.offset_array is not None:
            raise DataError(
                "The model's offset= was given as values, which cannot be computed for "
                "new rows: give it as a column name (offset='column') or as an "
                "offset(column) term of the formula."
            )
        return np.sum(parts, axis=0)

    def with_rows(self, data: pd.DataFrame) -> ModelSpec:
        """Return the spec holding the rows of ``data``, encoded with its encodings.

        Rows are dropped for missing values exactly as :func:`build_spec`
        drops them; ``n_dropped`` and ``row_index`` describe ``data``. Every
        level of ``data`` must be one of the spec's (a chunk of the data the
        spec was built from).
        """
        check_columns(data, list(self.columns), "data")
        rows = encode_rows(self.recipe, self.factors, data, self.fixed_names)
        index = data.index if rows.kept is None else data.index[rows.kept]
        return replace(
            self,
            y=rows.y,
            X=rows.X,
            factors=rows.factors,
            row_index=index,
            n_dropped=rows.n_rows - len(rows.y),
            source=None,
            weights=rows.weights,
            offset=rows.offset,
            trials=rows.trials,
        )

    def without_rows(self) -> ModelSpec:
        """Return the spec without its rows: encodings, sums and the cells only."""
        cells = self.level_combinations if self.factors else None
        factors = tuple(replace(f, codes=None, design=None) for f in self.factors)
        return replace(
            self,
            y=None,
            X=None,
            row_index=None,
            factors=factors,
            cell_levels=cells,
            weights=None,
            offset=None,
            trials=None,
        )

    @cached_property
    def level_combinations(self) -> np.ndarray:
        """The distinct combinations of the factors' levels among the rows (cells x factors).

        A cell is a combination of levels of all grouping factors that some
        row has; cells are sorted (first factor slowest). Without rows, the
        combinations the spec was built with (:attr:`cell_levels`). Computed
        once per spec (the likelihood's cells and every nesting check use it).
        """
        if not self.holds_rows:
            assert self.cell_levels is not None
            return self.cell_levels
        stacked = np.column_stack([factor.codes for factor in self.factors])
        if stacked.shape[1] == 1:
            return np.unique(stacked[:, 0])[:, None]
        return np.unique(stacked, axis=0)


def spec_columns(recipe: Recipe, data: pd.DataFrame) -> tuple[str, ...]:
    """The columns of ``data`` a recipe reads."""
    return tuple(used_columns(recipe, data))
