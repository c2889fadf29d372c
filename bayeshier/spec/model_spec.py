"""The frozen model specification that every engine consumes.

:func:`build_spec` turns an lme4-style formula and a DataFrame into a
:class:`ModelSpec`: the response, the fixed-effects design (encoded by
formulaic, which also rebuilds it for new data) and one
:class:`GroupingFactor` per random-intercept term, held as integer codes and
level labels -- never as a dense n x q indicator matrix.

Rows with a missing value in any column the model uses are dropped, like
lme4's ``na.omit``, and counted in ``ModelSpec.n_dropped``. Aliased
fixed-effect columns are dropped with a :class:`RankDeficiencyWarning` that
names them, as lme4 does.

A spec is built in two steps that also work chunk by chunk: the encodings
(levels, formulaic specs) are discovered from rows (:func:`spec_from_rows`),
then the fixed-effects sums of the rows (:class:`FixedSums`: the ``R`` of a
thin QR, ``X'y``, level counts) decide which columns are aliased
(:func:`finish_spec`). :meth:`ModelSpec.with_rows` encodes any chunk of rows
with a finished spec's encodings. For a pandas DataFrame the whole frame is
one chunk; for a Dask DataFrame (``build_spec(..., lazy=True)``, see
:mod:`bayeshier.spec.dask_rows`) the spec holds no rows, only a
:class:`RowSource` that applies the same functions partition by partition.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.errors import FormulaicError
from formulaic.model_spec import ModelSpec as FormulaicSpec
from formulaic.model_spec import ModelSpecs as FormulaicSpecs

from bayeshier.errors import (
    DataError,
    FormulaError,
    ModelError,
    RankDeficiencyWarning,
    close_matches_hint,
)
from bayeshier.spec.formula import (
    ParsedFormula,
    RandomTerm,
    parse_formula,
    plain_message,
    python_names,
)

__all__ = [
    "FixedSums",
    "GroupingFactor",
    "ModelSpec",
    "RowSource",
    "build_spec",
    "finish_spec",
    "fixed_sums",
    "is_dask_frame",
    "spec_from_rows",
    "thin_r",
    "used_columns",
]

#: lme4's tolerance for detecting aliased fixed-effect columns (``rankX.chk``).
RANK_TOLERANCE = 1e-7
_QR_CHUNK_ROWS = 8192


_DASK_NEEDS_LAZY = (
    "data is a Dask DataFrame. bayeshier.fit_reml and bayeshier.Model accept it (the rows are "
    "reduced to sufficient statistics where they live), but build_spec(..., lazy=False) "
    "needs the rows in memory: pass lazy=True, or data.compute() if they fit in memory."
)


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
class GroupingFactor:
    """A grouping factor of the random effects.

    Attributes
    ----------
    name : str
        As lme4 prints it (``"Subject"``, ``"cask:batch"``).
    variables : tuple of str
        The data columns whose interaction forms the factor.
    levels : tuple of str
        Level labels in lme4's order (interaction labels as ``"a:A"``).
    codes : numpy.ndarray or None
        Integer level code of every retained row; ``None`` when the spec
        holds no rows (a Dask DataFrame).
    terms : tuple of str
        Names of the random-effect columns per level, formulaic's names
        (``("Intercept",)``, ``("Intercept", "Days")``).
    blocks : tuple of int
        Sizes of the independent covariance blocks, in the order of
        :attr:`terms`: ``(2,)`` for ``(Days|Subject)`` (intercept and slope
        correlated), ``(1, 1)`` for ``(Days||Subject)``.
    design : numpy.ndarray or None
        The random-effect columns of every retained row (n x k), ``None`` for
        a random intercept alone (a column of ones is never stored) or when
        the spec holds no rows.
    design_specs : tuple
        formulaic model specs of the blocks, to build :attr:`design` for new data.
    values : tuple of numpy.ndarray
        For every variable, its values in level order (the raw values behind
        the labels), to encode new chunks of rows.
    keys : numpy.ndarray or None
        For an interaction, the used combinations of the variables' value
        positions (row-major), sorted: level ``j`` is ``keys[j]``.
    level_counts : numpy.ndarray or None
        Number of rows in each level (set when the spec is finished).

    """

    name: str
    variables: tuple[str, ...]
    levels: tuple[str, ...]
    codes: np.ndarray | None
    terms: tuple[str, ...] = ("Intercept",)
    blocks: tuple[int, ...] = (1,)
    design: np.ndarray | None = field(default=None, repr=False)
    design_specs: tuple = field(default=(), repr=False)
    values: tuple[np.ndarray, ...] = field(default=(), repr=False)
    keys: np.ndarray | None = field(default=None, repr=False)
    level_counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_levels(self) -> int:
        """Number of levels."""
        return len(self.levels)

    @property
    def n_columns(self) -> int:
        """Random-effect columns per level (1 for a random intercept)."""
        return len(self.terms)

    @property
    def intercept_only(self) -> bool:
        """Whether the factor has a random intercept and nothing else."""
        return not self.design_specs

    @property
    def n_theta(self) -> int:
        """Covariance parameters: ``k(k+1)/2`` per block of ``k`` columns."""
        return sum(k * (k + 1) // 2 for k in self.blocks)

    def columns(self) -> np.ndarray:
        """The random-effect columns of the retained rows (n x k), ones if intercept only."""
        if self.intercept_only:
            return np.ones((self.codes.shape[0], 1))
        return self.design

    def design_for(self, data: pd.DataFrame) -> np.ndarray:
        """The random-effect columns of new rows, encoded as in the fit."""
        if self.intercept_only:
            return np.ones((len(data), 1))
        parts = []
        for block_spec in self.design_specs:
            _check_columns(data, sorted(block_spec.required_variables), "new data")
            try:
                parts.append(block_spec.get_model_matrix(data, na_action="ignore"))
            except FormulaicError as error:
                raise DataError(
                    f"Cannot build the random-effect columns of {self.name!r} for the new "
                    f"data: {plain_message(error)}"
                ) from None
        return np.column_stack([part.to_numpy(dtype=float) for part in parts])

    def counts(self) -> np.ndarray:
        """Number of rows in each level."""
        if self.codes is None:
            return self.level_counts
        return np.bincount(self.codes, minlength=self.n_levels)

    def labels_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level labels of the rows of ``data``, written as in :attr:`levels`."""
        return _level_labels(data, self.variables).to_numpy(dtype=str)

    def codes_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level codes of the rows of ``data``; -1 marks a level not seen in fitting."""
        return pd.Index(self.levels).get_indexer(self.labels_for(data))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Level codes of complete rows from their raw values; -1 for an unseen level.

        Unlike :meth:`codes_for` no labels are formed: each column is
        factorized and its few distinct values are looked up in
        :attr:`values`, so a chunk of millions of rows encodes fast.
        """
        combined = np.zeros(len(frame), dtype=np.int64)
        unseen = np.zeros(len(frame), dtype=bool)
        for variable, values in zip(self.variables, self.values, strict=True):
            local, uniques = pd.factorize(frame[variable])
            position = pd.Index(values).get_indexer(np.asarray(uniques, dtype=values.dtype))
            codes = np.where(local < 0, -1, position[local])
            unseen |= codes < 0
            combined = combined * len(values) + codes
        if self.keys is not None:
            found = np.minimum(np.searchsorted(self.keys, combined), len(self.keys) - 1)
            unseen |= self.keys[found] != combined
            combined = found
        return np.where(unseen, -1, combined).astype(np.intp)

    def with_rows(self, frame: pd.DataFrame) -> GroupingFactor:
        """Return the factor with the codes (and random-effect columns) of complete rows."""
        codes = self.encode(frame)
        if (codes < 0).any():
            row = frame.iloc[int(np.flatnonzero(codes < 0)[0])]
            value = ":".join(_label(row[v]) for v in self.variables)
            raise DataError(
                f"A chunk of rows holds the level {value!r} of {self.name!r}, which was not "
                "there when the levels were collected: did the data change while bayeshier "
                "read them? Fit again on data that do not change."
            )
        if self.intercept_only:
            return replace(self, codes=codes)
        design = self.design_for(frame)
        for j, term in enumerate(self.terms):
            _check_finite(design[:, j], f"{term} (in the random effects of {self.name!r})")
        return replace(self, codes=codes, design=design)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything both engines need to know about a mixed model and its data.

    Attributes
    ----------
    formula : ParsedFormula
        The parsed formula.
    y : numpy.ndarray or None
        Response, one value per retained row (``None`` when the rows are in a
        Dask DataFrame: see :attr:`source`).
    X : numpy.ndarray or None
        Fixed-effects design (n x p), aliased columns removed.
    fixed_names : tuple of str
        Column names of ``X`` (formulaic's names, e.g. ``"Intercept"``, ``"class[T.suv]"``).
    factors : tuple of GroupingFactor
        Grouping factors ordered as lme4 orders them: by number of levels,
        largest first (ties keep formula order).
    row_index : pandas.Index or None
        Index labels (of the user's DataFrame) of the retained rows.
    n_dropped : int
        Rows dropped because a used column had a missing value.
    aliased : tuple of str
        Fixed-effect columns dropped as linear combinations of earlier ones.
    fixed_r : numpy.ndarray or None
        ``R`` of a thin QR of ``X``.
    formulaic_specs : formulaic.model_spec.ModelSpecs or None
        formulaic's specs of the response (``lhs``) and fixed part (``rhs``).
    fixed_xty : numpy.ndarray or None
        ``X'y``.
    columns : tuple of str
        The data columns the model uses.
    source : RowSource or None
        Where the rows are when the spec does not hold them.
    cell_levels : numpy.ndarray or None
        Without rows: the distinct combinations of the factors' levels among
        the rows (cells x factors, see :attr:`level_combinations`).

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
    formulaic_specs: FormulaicSpecs | None = field(default=None, repr=False)
    fixed_xty: np.ndarray | None = field(default=None, repr=False)
    columns: tuple[str, ...] = ()
    source: RowSource | None = field(default=None, repr=False)
    cell_levels: np.ndarray | None = field(default=None, repr=False)

    @property
    def response(self) -> str:
        """Name of the response (left-hand side of the formula)."""
        return self.formula.response

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
    def fixed_spec(self) -> FormulaicSpec | None:
        """The formulaic spec of the fixed part (rebuilds ``X`` for new data)."""
        return None if self.formulaic_specs is None else self.formulaic_specs.rhs

    @property
    def intercepts_only(self) -> bool:
        """Whether every grouping factor has a random intercept and nothing else."""
        return all(factor.intercept_only for factor in self.factors)

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

        Categorical levels are encoded as in the fit (a level not seen in the
        fit raises formulaic's error); aliased columns are left out.
        """
        assert self.fixed_spec is not None
        _check_columns(data, sorted(self.fixed_spec.required_variables), "new data")
        try:
            design = self.fixed_spec.get_model_matrix(data, na_action="ignore")
        except FormulaicError as error:
            raise DataError(
                f"Cannot build the fixed effects for the new data: {plain_message(error)}"
            ) from None
        return design[list(self.fixed_names)].to_numpy(dtype=float)

    def with_rows(self, data: pd.DataFrame) -> ModelSpec:
        """Return the spec holding the rows of ``data``, encoded with its encodings.

        Rows are dropped for missing values exactly as :func:`build_spec`
        drops them; ``n_dropped`` and ``row_index`` describe ``data``. Every
        level of ``data`` must be one of the spec's (a chunk of the data the
        spec was built from).
        """
        _check_columns(data, list(self.columns), "data")
        frame, complete = complete_rows(data, list(self.columns))
        y, X, names, _, kept = _fixed_design(self.formula, self.formulaic_specs, frame)
        if len(kept) < len(frame):
            frame = frame.iloc[kept].reset_index(drop=True)
        if names != self.fixed_names:
            X = X[:, [names.index(name) for name in self.fixed_names]]
        return replace(
            self,
            y=y,
            X=X,
            factors=tuple(factor.with_rows(frame) for factor in self.factors),
            row_index=data.index[complete][kept],
            n_dropped=len(data) - len(y),
            source=None,
        )

    def without_rows(self) -> ModelSpec:
        """Return the spec without its rows: encodings, sums and the cells only."""
        cells = self.level_combinations if self.factors else None
        factors = tuple(replace(f, codes=None, design=None) for f in self.factors)
        return replace(self, y=None, X=None, row_index=None, factors=factors, cell_levels=cells)

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


@dataclass(frozen=True, eq=False)
class FixedSums:
    """Sums over rows that finish a spec; two chunks' sums add up with ``+``.

    Attributes
    ----------
    r : numpy.ndarray
        ``R`` of a thin QR of the rows' ``X`` (all columns, aliased ones
        included); chunks combine by a QR of the stacked factors (TSQR).
    xty : numpy.ndarray
        ``X'y``.
    nobs : int
        Rows used.
    n_rows : int
        Rows read, used or dropped.
    counts : tuple of numpy.ndarray
        Rows per level of every factor (spec order).

    """

    r: np.ndarray
    xty: np.ndarray
    nobs: int
    n_rows: int
    counts: tuple[np.ndarray, ...]

    def __add__(self, other: FixedSums) -> FixedSums:
        return FixedSums(
            r=np.linalg.qr(np.vstack([self.r, other.r]), mode="r"),
            xty=self.xty + other.xty,
            nobs=self.nobs + other.nobs,
            n_rows=self.n_rows + other.n_rows,
            counts=tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
        )


def fixed_sums(spec: ModelSpec) -> FixedSums:
    """The :class:`FixedSums` of the rows ``spec`` holds."""
    return FixedSums(
        r=thin_r(spec.X),
        xty=spec.X.T @ spec.y,
        nobs=spec.nobs,
        n_rows=spec.nobs + spec.n_dropped,
        counts=tuple(factor.counts() for factor in spec.factors),
    )


def build_spec(
    formula: str | ParsedFormula, data: pd.DataFrame, *, lazy: bool = False
) -> ModelSpec:
    """Parse ``formula`` and build the model specification from ``data``.

    Parameters
    ----------
    formula : str or ParsedFormula
        lme4-style formula, e.g. ``"Reaction ~ Days + (1|Subject)"``.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        One row per observation. A Dask DataFrame needs ``lazy=True``.
    lazy : bool, default False
        Accept a Dask DataFrame: the spec then holds no rows, only their
        encodings and fixed-effects sums, computed where the data live
        (:mod:`bayeshier.spec.dask_rows`); :func:`bayeshier.reml.fit_spec`
        reduces the rows to sufficient statistics the same way. A pandas
        DataFrame is always held in memory.

    Returns
    -------
    ModelSpec

    Raises
    ------
    FormulaError, DataError, ModelError
        With a message naming the column, term or value and what to do.

    """
    parsed = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    if is_dask_frame(data):
        if not lazy:
            raise DataError(_DASK_NEEDS_LAZY)
        from bayeshier.spec.dask_rows import build_dask_spec

        return build_dask_spec(parsed, data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    spec = spec_from_rows(parsed, data)
    return finish_spec(spec, fixed_sums(spec))


def used_columns(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    """The columns of ``data`` the model uses; a missing one raises :class:`DataError`."""
    fixed_columns = _fixed_columns(parsed, Formula(parsed.fixed_formula), data)
    group_columns = sorted({v for term in parsed.random for v in term.variables})
    slope_columns = _random_columns(parsed.random, data)
    used = list(dict.fromkeys(fixed_columns + slope_columns + group_columns))
    _check_columns(data, used, "data")
    return used


def complete_rows(data: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The used ``columns`` of the rows without a missing value, and the mask of those rows."""
    complete = data.loc[:, columns].notna().all(axis=1).to_numpy()
    frame = data.loc[:, columns] if complete.all() else data.loc[complete, columns]
    return _text_as_str(frame.reset_index(drop=True)), complete


def _text_as_str(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns of the ``"string"`` dtype as pandas' default ``"str"`` dtype.

    Dask (and Parquet readers) hold text as ``"string"`` (missing values as
    ``pd.NA``), which formulaic does not encode as categorical; without
    missing values the two dtypes hold the same strings.
    """
    converted = {
        column: pd.StringDtype(dtype.storage, na_value=np.nan)
        for column, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA
    }
    return frame.astype(converted) if converted else frame


def spec_from_rows(parsed: ParsedFormula, data: pd.DataFrame) -> ModelSpec:
    """A spec holding the rows of ``data`` with encodings discovered from them.

    Levels and formulaic's encodings come from the complete rows of
    ``data``; aliased columns are not yet dropped (see :func:`finish_spec`).
    """
    columns = used_columns(parsed, data)
    frame, complete = complete_rows(data, columns)
    y, X, names, specs, kept = _fixed_design(parsed, Formula(parsed.fixed_formula), frame)
    if len(kept) < len(frame):  # a transform (e.g. log of a negative) gave NaN
        frame = frame.iloc[kept].reset_index(drop=True)
    return ModelSpec(
        formula=parsed,
        y=y,
        X=X,
        fixed_names=names,
        factors=_grouping_factors(parsed.random, frame),
        row_index=data.index[complete][kept],
        n_dropped=len(data) - len(y),
        formulaic_specs=specs,
        columns=tuple(columns),
    )


def finish_spec(spec: ModelSpec, sums: FixedSums, source: RowSource | None = None) -> ModelSpec:
    """Drop aliased columns (lme4's rule) and check the model is estimable.

    ``sums`` are the :class:`FixedSums` of all the rows; ``source`` is where
    the rows are when ``spec`` does not hold them.
    """
    kept, R = _kept_columns(sums.r, spec.fixed_names)
    aliased = tuple(name for j, name in enumerate(spec.fixed_names) if j not in kept)
    X = spec.X[:, kept] if aliased and spec.X is not None else spec.X
    factors = tuple(
        replace(factor, level_counts=counts)
        for factor, counts in zip(spec.factors, sums.counts, strict=True)
    )
    spec = replace(
        spec,
        X=X,
        fixed_names=tuple(spec.fixed_names[j] for j in kept),
        factors=factors,
        n_dropped=sums.n_rows - sums.nobs,
        aliased=aliased,
        fixed_r=R,
        fixed_xty=sums.xty[kept],
        source=source,
    )
    _check_estimable(spec)
    return spec


def _fixed_columns(parsed: ParsedFormula, fixed_formula: Formula, data: pd.DataFrame) -> list[str]:
    """Data columns the fixed part uses.

    formulaic's ``required_variables`` leaves out the arguments of its
    stateful transforms (``center(x)``, ``scale(x)``), so the names used
    inside every Python expression of the formula that are columns of
    ``data`` are added.
    """
    required = fixed_formula.lhs.required_variables | fixed_formula.rhs.required_variables
    inside = {name for name in python_names(parsed.fixed_formula) if name in data.columns}
    return sorted({str(v) for v in required} | inside)


def _random_columns(terms: tuple[RandomTerm, ...], data: pd.DataFrame) -> list[str]:
    """Data columns the left sides of the bars use (``Days`` in ``(Days|Subject)``)."""
    names: set[str] = set()
    for term in terms:
        names |= {str(v) for v in Formula(term.expr).required_variables}
        names |= {name for name in python_names(f"~ {term.expr}") if name in data.columns}
    return sorted(names)


def _check_columns(data: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        column = missing[0]
        names = [str(c) for c in data.columns]
        raise DataError(
            f"Column {column!r} is not in the {where}.{close_matches_hint(column, names)} "
            f"The {where} has columns: {', '.join(names)}."
        )


def _fixed_design(
    parsed: ParsedFormula, encoding: Formula | FormulaicSpecs, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], FormulaicSpecs, np.ndarray]:
    """Response, design, column names, formulaic specs and positions of the rows kept.

    ``encoding`` is the formula (levels are discovered from ``frame``) or
    the specs of an earlier call (``frame`` is encoded as that data was).
    """
    response = parsed.response
    if response in frame.columns and not _is_numeric(frame[response]):
        raise DataError(
            f"The response {response!r} is not numeric (dtype {frame[response].dtype}): "
            "a linear mixed model needs a numeric response; convert it first."
        )
    try:
        matrices = encoding.get_model_matrix(frame, na_action="drop", output="pandas")
    except FormulaicError as error:
        raise FormulaError(
            f"Cannot build the fixed effects of {parsed.text!r}: {plain_message(error)}"
        ) from None
    except Exception as error:  # formulaic re-raises evaluation errors of transforms
        raise FormulaError(
            f"Cannot evaluate the fixed part {parsed.fixed_formula!r}: {plain_message(error)}"
        ) from None
    lhs, rhs = matrices.lhs, matrices.rhs
    if lhs.shape[1] != 1:
        raise DataError(
            f"The response {response!r} must be one numeric column, but it encodes as "
            f"{lhs.shape[1]} columns ({', '.join(lhs.columns)}); is it categorical?"
        )
    y = lhs.to_numpy(dtype=float).ravel()
    X = rhs.to_numpy(dtype=float)
    _check_finite(y, response)
    for j, name in enumerate(rhs.columns):
        _check_finite(X[:, j], name)
    kept = rhs.index.to_numpy()
    return y, X, tuple(map(str, rhs.columns)), matrices.model_spec, kept


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"Column {name!r} has {int(bad.sum())} infinite value(s) (first at row {first}: "
            f"{values[first]}). Remove or recode them; missing values (NaN) are dropped, "
            "infinite ones are not."
        )


def thin_r(X: np.ndarray) -> np.ndarray:
    """The R factor of a thin QR of ``X`` (tall-skinny QR in row chunks)."""
    blocks = [
        np.linalg.qr(X[start : start + _QR_CHUNK_ROWS], mode="r")
        for start in range(0, X.shape[0], _QR_CHUNK_ROWS)
    ]
    stacked = np.vstack(blocks) if blocks else np.zeros((0, X.shape[1]))
    return np.linalg.qr(stacked, mode="r")


def _kept_columns(R: np.ndarray, names: tuple[str, ...]) -> tuple[list[int], np.ndarray]:
    """Positions of the columns that are not linear combinations of earlier ones (lme4's rule).

    ``R`` is the thin-QR ``R`` of the design. A column is aliased when the
    norm of its residual after projection on the columns kept before it is
    below ``RANK_TOLERANCE`` times its own norm. Returns the kept positions
    and the ``R`` of the kept columns.
    """
    norms = np.linalg.norm(R, axis=0)
    kept: list[int] = []
    for j in range(R.shape[1]):
        candidate = R[:, [*kept, j]]
        residual = abs(np.linalg.qr(candidate, mode="r")[-1, -1]) if kept else norms[j]
        if norms[j] > 0 and residual > RANK_TOLERANCE * norms[j]:
            kept.append(j)
    aliased = tuple(name for j, name in enumerate(names) if j not in kept)
    if not aliased:
        return kept, R
    warnings.warn(
        f"Fixed-effect column(s) {', '.join(map(repr, aliased))} are linear combinations "
        "of earlier columns (rank-deficient design) and were dropped, as lme4 does.",
        RankDeficiencyWarning,
        stacklevel=4,
    )
    return kept, np.linalg.qr(R[:, kept], mode="r")


def _grouping_factors(
    terms: tuple[RandomTerm, ...], frame: pd.DataFrame
) -> tuple[GroupingFactor, ...]:
    """One factor per grouping expression; its terms become its covariance blocks."""
    by_name: dict[str, list[RandomTerm]] = {}
    for term in terms:
        by_name.setdefault(term.name, []).append(term)
    factors = [_grouping_factor(same, frame) for same in by_name.values()]
    order = sorted(range(len(factors)), key=lambda i: -factors[i].n_levels)
    return tuple(factors[i] for i in order)


def _grouping_factor(terms: list[RandomTerm], frame: pd.DataFrame) -> GroupingFactor:
    first = terms[0]
    codes, levels, values, keys = _factorize(frame, first.variables)
    if len(levels) < 2:
        raise DataError(
            f"The grouping factor {first.name!r} in {first.source} has "
            f"{len(levels)} level(s) in the data used: a random effect needs at least two "
            "groups. Remove the term or check the column."
        )
    factor = GroupingFactor(
        name=first.name,
        variables=first.variables,
        levels=levels,
        codes=codes,
        values=values,
        keys=keys,
    )
    if [term.expr for term in terms] == ["1"]:
        return factor
    blocks = [_random_block(term, frame) for term in terms]
    names = [name for block in blocks for name in block.columns]
    _check_distinct_columns(terms, names)
    return replace(
        factor,
        terms=tuple(map(str, names)),
        blocks=tuple(block.shape[1] for block in blocks),
        design=np.column_stack([block.to_numpy(dtype=float) for block in blocks]),
        design_specs=tuple(block.model_spec for block in blocks),
    )


def _random_block(term: RandomTerm, frame: pd.DataFrame) -> pd.DataFrame:
    """The model matrix of one term's left side (``1 + Days`` -> Intercept, Days)."""
    try:
        block = Formula(term.expr).get_model_matrix(frame, na_action="ignore", output="pandas")
    except Exception as error:  # formulaic re-raises evaluation errors of transforms
        raise FormulaError(
            f"Cannot build the random-effect columns of {term.source!r}: {plain_message(error)}"
        ) from None
    for name in block.columns:
        _check_finite(block[name].to_numpy(dtype=float), f"{name} (in {term.source})")
    return block


def _check_distinct_columns(terms: list[RandomTerm], names: list[str]) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        sources = ", ".join(dict.fromkeys(term.source for term in terms))
        raise FormulaError(
            f"The random-effect column {repeated[0]!r} of grouping factor "
            f"{terms[0].name!r} appears twice ({sources}); give each column of a "
            "grouping factor one term, e.g. '(x|g)' instead of '(1|g) + (x|g)'."
        )


def _column_factor(column: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Integer codes, labels and values of one grouping column, in R's level order."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categorical = column.cat.remove_unused_categories()
        categories = categorical.cat.categories
        return (
            categorical.cat.codes.to_numpy(),
            [str(c) for c in categories],
            _plain_values(categories.to_numpy()),
        )
    codes, uniques = pd.factorize(column, sort=True)
    values = _plain_values(np.asarray(uniques))
    return codes, [_label(value) for value in values], values


def _plain_values(values: np.ndarray) -> np.ndarray:
    """Numeric and boolean values as they are, anything else as Python objects."""
    if values.dtype.kind in "biuf":
        return values
    return values.astype(object)


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _factorize(
    frame: pd.DataFrame, variables: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...], tuple[np.ndarray, ...], np.ndarray | None]:
    """Codes, labels, values and keys of the interaction of ``variables`` (first varies slowest).

    ``values`` holds each variable's values in level order; ``keys`` (for
    two or more variables) the used combinations of value positions, sorted,
    one per level (see :attr:`GroupingFactor.keys`).
    """
    codes, labels, values = _column_factor(frame[variables[0]])
    if len(variables) == 1:
        return codes.astype(np.intp), tuple(labels), (values,), None
    combined = codes.astype(np.int64)
    label_parts = [np.asarray(labels, dtype=object)]
    value_parts = [values]
    for variable in variables[1:]:
        more_codes, more_labels, more_values = _column_factor(frame[variable])
        combined = combined * len(more_labels) + more_codes
        label_parts.append(np.asarray(more_labels, dtype=object))
        value_parts.append(more_values)
    used, codes = np.unique(combined, return_inverse=True)
    digits = np.unravel_index(used, [len(part) for part in label_parts])
    level_labels = tuple(
        ":".join(part[d] for part, d in zip(label_parts, combo, strict=True))
        for combo in zip(*digits, strict=True)
    )
    return codes.astype(np.intp), level_labels, tuple(value_parts), used


def _level_labels(data: pd.DataFrame, variables: tuple[str, ...]) -> pd.Index:
    _check_columns(data, list(variables), "new data")
    parts = [data[v].map(_label, na_action="ignore").astype(str) for v in variables]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ":" + part
    return pd.Index(labels)


def _check_estimable(spec: ModelSpec) -> None:
    n, p = spec.nobs, spec.n_fixed
    if n <= p:
        raise ModelError(
            f"The model has {p} fixed-effect coefficients but only {n} usable rows: "
            "no residual degrees of freedom. Use fewer predictors or more data."
        )
    for factor in spec.factors:
        if factor.n_levels >= n:
            raise ModelError(
                f"The grouping factor {factor.name!r} has {factor.n_levels} levels for {n} rows: "
                "each level has one row, so its variance cannot be told apart from the "
                "residual variance. Remove the term or use data with repeated rows per group."
            )
