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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.errors import FormulaicError
from formulaic.model_spec import ModelSpec as FormulaicSpec

from bayeshier.errors import (
    DataError,
    FormulaError,
    ModelError,
    RankDeficiencyWarning,
    close_matches_hint,
)
from bayeshier.formula import (
    ParsedFormula,
    RandomTerm,
    parse_formula,
    plain_message,
    python_names,
)

__all__ = ["GroupingFactor", "ModelSpec", "build_spec", "thin_r"]

#: lme4's tolerance for detecting aliased fixed-effect columns (``rankX.chk``).
RANK_TOLERANCE = 1e-7
_QR_CHUNK_ROWS = 8192


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
    codes : numpy.ndarray
        Integer level code of every retained row.
    terms : tuple of str
        Names of the random-effect columns per level, formulaic's names
        (``("Intercept",)``, ``("Intercept", "Days")``).
    blocks : tuple of int
        Sizes of the independent covariance blocks, in the order of
        :attr:`terms`: ``(2,)`` for ``(Days|Subject)`` (intercept and slope
        correlated), ``(1, 1)`` for ``(Days||Subject)``.
    design : numpy.ndarray or None
        The random-effect columns of every retained row (n x k), ``None`` for
        a random intercept alone (a column of ones is never stored).
    design_specs : tuple
        formulaic model specs of the blocks, to build :attr:`design` for new data.

    """

    name: str
    variables: tuple[str, ...]
    levels: tuple[str, ...]
    codes: np.ndarray
    terms: tuple[str, ...] = ("Intercept",)
    blocks: tuple[int, ...] = (1,)
    design: np.ndarray | None = field(default=None, repr=False)
    design_specs: tuple = field(default=(), repr=False)

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
        return self.design is None

    @property
    def n_theta(self) -> int:
        """Covariance parameters: ``k(k+1)/2`` per block of ``k`` columns."""
        return sum(k * (k + 1) // 2 for k in self.blocks)

    def columns(self) -> np.ndarray:
        """The random-effect columns of the retained rows (n x k), ones if intercept only."""
        if self.design is None:
            return np.ones((self.codes.shape[0], 1))
        return self.design

    def design_for(self, data: pd.DataFrame) -> np.ndarray:
        """The random-effect columns of new rows, encoded as in the fit."""
        if self.design is None:
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
        return np.bincount(self.codes, minlength=self.n_levels)

    def labels_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level labels of the rows of ``data``, written as in :attr:`levels`."""
        return _level_labels(data, self.variables).to_numpy(dtype=str)

    def codes_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level codes of the rows of ``data``; -1 marks a level not seen in fitting."""
        return pd.Index(self.levels).get_indexer(self.labels_for(data))


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything both engines need to know about a mixed model and its data.

    Attributes
    ----------
    formula : ParsedFormula
        The parsed formula.
    y : numpy.ndarray
        Response, one value per retained row.
    X : numpy.ndarray
        Fixed-effects design (n x p), aliased columns removed.
    fixed_names : tuple of str
        Column names of ``X`` (formulaic's names, e.g. ``"Intercept"``, ``"class[T.suv]"``).
    factors : tuple of GroupingFactor
        Grouping factors ordered as lme4 orders them: by number of levels,
        largest first (ties keep formula order).
    row_index : pandas.Index
        Index labels (of the user's DataFrame) of the retained rows.
    n_dropped : int
        Rows dropped because a used column had a missing value.
    aliased : tuple of str
        Fixed-effect columns dropped as linear combinations of earlier ones.

    """

    formula: ParsedFormula
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    factors: tuple[GroupingFactor, ...]
    row_index: pd.Index
    n_dropped: int = 0
    aliased: tuple[str, ...] = ()
    fixed_r: np.ndarray | None = field(default=None, repr=False)
    fixed_spec: FormulaicSpec | None = field(default=None, repr=False)

    @property
    def response(self) -> str:
        """Name of the response (left-hand side of the formula)."""
        return self.formula.response

    @property
    def nobs(self) -> int:
        """Number of rows used in the fit."""
        return int(self.y.shape[0])

    @property
    def n_fixed(self) -> int:
        """Number of fixed-effect coefficients."""
        return int(self.X.shape[1])

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


def build_spec(formula: str | ParsedFormula, data: pd.DataFrame) -> ModelSpec:
    """Parse ``formula`` and build the model specification from ``data``.

    Parameters
    ----------
    formula : str or ParsedFormula
        lme4-style formula, e.g. ``"Reaction ~ Days + (1|Subject)"``.
    data : pandas.DataFrame
        One row per observation.

    Returns
    -------
    ModelSpec

    Raises
    ------
    FormulaError, DataError, ModelError
        With a message naming the column, term or value and what to do.

    """
    parsed = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    fixed_formula = Formula(parsed.fixed_formula)
    fixed_columns = _fixed_columns(parsed, fixed_formula, data)
    group_columns = sorted({v for term in parsed.random for v in term.variables})
    slope_columns = _random_columns(parsed.random, data)
    used = list(dict.fromkeys(fixed_columns + slope_columns + group_columns))
    _check_columns(data, used, "data")

    complete = data.loc[:, used].notna().all(axis=1).to_numpy()
    frame = data.loc[complete, used].reset_index(drop=True)
    y, X, names, fixed_spec, kept = _fixed_design(parsed, fixed_formula, frame)
    if len(kept) < len(frame):  # a transform (e.g. log of a negative) gave NaN
        frame = frame.iloc[kept].reset_index(drop=True)
    row_index = data.index[complete][kept]
    X, names, aliased, fixed_r = _drop_aliased_columns(X, names)
    factors = _grouping_factors(parsed.random, frame)
    spec = ModelSpec(
        formula=parsed,
        y=y,
        X=X,
        fixed_names=names,
        factors=factors,
        row_index=row_index,
        n_dropped=len(data) - len(y),
        aliased=aliased,
        fixed_r=fixed_r,
        fixed_spec=fixed_spec,
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
    parsed: ParsedFormula, fixed_formula: Formula, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], FormulaicSpec, np.ndarray]:
    """Response, design, column names, formulaic spec and positions of the rows kept."""
    response = parsed.response
    if response in frame.columns and not _is_numeric(frame[response]):
        raise DataError(
            f"The response {response!r} is not numeric (dtype {frame[response].dtype}): "
            "a linear mixed model needs a numeric response; convert it first."
        )
    try:
        matrices = fixed_formula.get_model_matrix(frame, na_action="drop", output="pandas")
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
    return y, X, tuple(map(str, rhs.columns)), rhs.model_spec, kept


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


def _drop_aliased_columns(
    X: np.ndarray, names: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], np.ndarray]:
    """Drop columns that are linear combinations of earlier ones (lme4's rule).

    A column is aliased when the norm of its residual after projection on the
    columns kept before it is below ``RANK_TOLERANCE`` times its own norm.
    Returns the kept design, its names, the aliased names and the thin-QR
    ``R`` of the kept design.
    """
    R = thin_r(X)
    norms = np.linalg.norm(R, axis=0)
    kept: list[int] = []
    for j in range(X.shape[1]):
        candidate = R[:, [*kept, j]]
        residual = abs(np.linalg.qr(candidate, mode="r")[-1, -1]) if kept else norms[j]
        if norms[j] > 0 and residual > RANK_TOLERANCE * norms[j]:
            kept.append(j)
    aliased = tuple(name for j, name in enumerate(names) if j not in kept)
    if aliased:
        warnings.warn(
            f"Fixed-effect column(s) {', '.join(map(repr, aliased))} are linear combinations "
            "of earlier columns (rank-deficient design) and were dropped, as lme4 does.",
            RankDeficiencyWarning,
            stacklevel=3,
        )
    if not aliased:
        return X, names, aliased, R
    kept_r = np.linalg.qr(R[:, kept], mode="r")
    return X[:, kept], tuple(names[j] for j in kept), aliased, kept_r


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
    codes, levels = _factorize(frame, first.variables)
    if len(levels) < 2:
        raise DataError(
            f"The grouping factor {first.name!r} in {first.source} has "
            f"{len(levels)} level(s) in the data used: a random effect needs at least two "
            "groups. Remove the term or check the column."
        )
    factor = GroupingFactor(name=first.name, variables=first.variables, levels=levels, codes=codes)
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


def _column_factor(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and labels of one grouping column, in R's level order."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categorical = column.cat.remove_unused_categories()
        return categorical.cat.codes.to_numpy(), [str(c) for c in categorical.cat.categories]
    codes, uniques = pd.factorize(column, sort=True)
    return codes, [_label(value) for value in uniques]


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _factorize(
    frame: pd.DataFrame, variables: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of the interaction of ``variables`` (first varies slowest)."""
    codes, labels = _column_factor(frame[variables[0]])
    combined = codes.astype(np.int64)
    label_parts = [np.asarray(labels, dtype=object)]
    sizes = [len(labels)]
    for variable in variables[1:]:
        more_codes, more_labels = _column_factor(frame[variable])
        combined = combined * len(more_labels) + more_codes
        label_parts.append(np.asarray(more_labels, dtype=object))
        sizes.append(len(more_labels))
    if len(variables) == 1:
        return codes.astype(np.intp), tuple(labels)
    used, codes = np.unique(combined, return_inverse=True)
    digits = np.unravel_index(used, sizes)
    level_labels = tuple(
        ":".join(part[d] for part, d in zip(label_parts, combo, strict=True))
        for combo in zip(*digits, strict=True)
    )
    return codes.astype(np.intp), level_labels


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
