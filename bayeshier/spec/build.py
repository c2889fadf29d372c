"""Build a spec in two steps that also work chunk by chunk.

The encodings (levels, transforms, designs) are learned from rows
(:func:`spec_from_rows`); then the fixed-effects sums of all the rows
(:class:`FixedSums`: the ``R`` of a thin QR of the weighted ``X``,
``X'W(y - offset)``, level counts) decide which columns are aliased and
finish the spec (:func:`finish_spec`). For a pandas DataFrame the whole
frame is one chunk; for a Dask DataFrame (:mod:`bayeshier.spec.dask_rows`)
the sums of the partitions are added up.

Aliased fixed-effect columns are dropped with a
:class:`~bayeshier.errors.RankDeficiencyWarning` that names them, as lme4
does (``rankX.chk``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, ModelError, RankDeficiencyWarning
from bayeshier.spec.formula import ParsedFormula, parse_expression
from bayeshier.spec.recipe import Recipe, used_columns
from bayeshier.spec.rows import learn_rows
from bayeshier.spec.specification import ModelSpec, RowSource
from bayeshier.spec.tree import Name, Node

__all__ = [
    "FixedSums",
    "finish_spec",
    "fixed_sums",
    "make_recipe",
    "spec_from_rows",
    "thin_r",
    "weighted_rows",
]

#: lme4's tolerance for detecting aliased fixed-effect columns (``rankX.chk``).
RANK_TOLERANCE = 1e-7
_QR_CHUNK_ROWS = 8192


def make_recipe(
    parsed: ParsedFormula,
    data: pd.DataFrame,
    *,
    weights: object = None,
    offset: object = None,
    family: str | None = None,
) -> Recipe:
    """The recipe of a model: the formula and how its weights and offset are given.

    ``weights``/``offset`` may be a column name, an expression of columns
    (parsed and checked like a formula, e.g. ``"1/v"``), or values (one per
    row of ``data``; a Series is matched by index).
    """
    weight_node, weight_values = _row_argument(weights, data, "weights")
    offset_node, offset_values = _row_argument(offset, data, "offset")
    return Recipe(
        formula=parsed,
        family=family,
        weights=weight_node,
        offset=offset_node,
        weights_array=weight_values,
        offset_array=offset_values,
    )


def _row_argument(
    value: object, data: pd.DataFrame, what: str
) -> tuple[Node | None, pd.Series | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        if value in data.columns:
            return Name(value, 0, len(value), quoted=True), None
        return parse_expression(value), None
    if isinstance(value, pd.Series):
        return None, value.astype(float)
    values = np.asarray(value, dtype=float)
    if values.ndim != 1 or values.shape[0] != len(data):
        raise DataError(
            f"{what}= holds {values.size} value(s) for {len(data)} rows of data: give one "
            f"value per row, or a column name ({what}='column')."
        )
    return None, pd.Series(values, index=data.index)


def spec_from_rows(parsed: ParsedFormula | Recipe, data: pd.DataFrame) -> ModelSpec:
    """A spec holding the rows of ``data`` with encodings learned from them.

    Levels, transforms and designs come from ``data``; aliased columns are
    not yet dropped (see :func:`finish_spec`).
    """
    recipe = parsed if isinstance(parsed, Recipe) else Recipe(parsed)
    columns = used_columns(recipe, data)
    rows = learn_rows(recipe, data)
    index = data.index if rows.kept is None else data.index[rows.kept]
    return ModelSpec(
        formula=recipe.formula,
        y=rows.y,
        X=rows.X,
        fixed_names=rows.recipe.fixed.names,
        factors=rows.factors,
        row_index=index,
        n_dropped=rows.n_rows - len(rows.y),
        recipe=rows.recipe,
        columns=tuple(columns),
        weights=rows.weights,
        offset=rows.offset,
        trials=rows.trials,
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
        log_weights=sums.log_weights,
    )
    _check_estimable(spec, sums)
    return spec


@dataclass(frozen=True, eq=False)
class FixedSums:
    """Sums over rows that finish a spec; two chunks' sums add up with ``+``.

    Attributes
    ----------
    r : numpy.ndarray
        ``R`` of a thin QR of the rows' ``W^1/2 X`` (all columns, aliased
        ones included); chunks combine by a QR of the stacked factors (TSQR).
    xty : numpy.ndarray
        ``X'W(y - offset)``.
    nobs : int
        Rows used.
    n_rows : int
        Rows read, used or dropped.
    counts : tuple of numpy.ndarray
        Rows per level of every factor (spec order).
    log_weights : float
        ``sum(log w)`` over the positive weights (0 without weights).
    response_range : tuple of float
        Smallest and largest ``y - offset`` (``(inf, -inf)`` without rows or
        response): a constant response is refused from it.

    """

    r: np.ndarray
    xty: np.ndarray
    nobs: int
    n_rows: int
    counts: tuple[np.ndarray, ...]
    log_weights: float = 0.0
    response_range: tuple[float, float] = (np.inf, -np.inf)

    def __add__(self, other: FixedSums) -> FixedSums:
        return FixedSums(
            r=np.linalg.qr(np.vstack([self.r, other.r]), mode="r"),
            xty=self.xty + other.xty,
            nobs=self.nobs + other.nobs,
            n_rows=self.n_rows + other.n_rows,
            counts=tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
            log_weights=self.log_weights + other.log_weights,
            response_range=(
                min(self.response_range[0], other.response_range[0]),
                max(self.response_range[1], other.response_range[1]),
            ),
        )


def weighted_rows(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """``W^1/2 X`` and ``W^1/2 (y - offset)`` of the rows ``spec`` holds (lme4's scaling)."""
    X, y = spec.X, spec.y
    if spec.offset is not None:
        y = y - spec.offset
    if spec.weights is not None:
        root = np.sqrt(spec.weights)
        X, y = X * root[:, None], y * root
    return X, y


def fixed_sums(spec: ModelSpec) -> FixedSums:
    """The :class:`FixedSums` of the rows ``spec`` holds."""
    X, y = weighted_rows(spec)
    log_weights = 0.0
    if spec.weights is not None:  # a GLM family allows zero weights: they add nothing
        log_weights = float(np.sum(np.log(spec.weights[spec.weights > 0])))
    return FixedSums(
        r=thin_r(X),
        xty=X.T @ y,
        nobs=spec.nobs,
        n_rows=spec.nobs + spec.n_dropped,
        counts=tuple(factor.counts() for factor in spec.factors),
        log_weights=log_weights,
        response_range=_response_range(spec),
    )


def _response_range(spec: ModelSpec) -> tuple[float, float]:
    """Smallest and largest ``y - offset`` of the rows ``spec`` holds."""
    if spec.y is None or spec.y.size == 0:
        return (np.inf, -np.inf)
    y = spec.y if spec.offset is None else spec.y - spec.offset
    return (float(np.min(y)), float(np.max(y)))


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
        stacklevel=5,
    )
    return kept, np.linalg.qr(R[:, kept], mode="r")


def _check_response_varies(spec: ModelSpec, sums: FixedSums) -> None:
    """Raise a :class:`DataError` when the response (less any offset) takes one value."""
    low, high = sums.response_range
    if sums.nobs < 2 or low < high:
        return
    after = " once the offset is subtracted" if spec.has_offset else ""
    raise DataError(
        f"The response {spec.response!r} is constant: every one of the {sums.nobs} rows "
        f"used holds {low:g}{after}, so there is no variation to model (lme4 stops "
        "with 'Response is constant' too). Check that the response is the column you "
        "meant, and that dropping rows with missing values left more than one value."
    )


def _check_estimable(spec: ModelSpec, sums: FixedSums) -> None:
    """Refuse a model the data cannot estimate (a Gaussian one: no GLM family).

    With a GLM family (``family=``, for ``fit_glmm``) a constant response and a
    grouping factor with one row per level are allowed, as glmer allows them:
    an observation-level effect ``(1|obs)`` models overdispersion.
    """
    gaussian = spec.recipe is None or spec.recipe.family is None
    if gaussian:
        _check_response_varies(spec, sums)
    n, p = spec.nobs, spec.n_fixed
    if n <= p:
        raise ModelError(
            f"The model has {p} fixed-effect coefficients but only {n} usable rows: "
            "no residual degrees of freedom. Use fewer predictors or more data."
        )
    for factor in spec.factors if gaussian else ():
        if factor.n_levels >= n:
            raise ModelError(
                f"The grouping factor {factor.name!r} has {factor.n_levels} levels for {n} rows: "
                "each level has one row, so its variance cannot be told apart from the "
                "residual variance. Remove the term or use data with repeated rows per group."
            )
