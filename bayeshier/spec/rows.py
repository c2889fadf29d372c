"""Rows: from a data frame to the response, the designs and the grouping codes.

:func:`learn_rows` evaluates every variable of the formula on all rows
(stateful transforms learn there, as in R's ``model.frame``), drops the rows
with a missing value in any of them (lme4's ``na.omit``: missing values,
NaN made by a transform, levels outside ``levels=``), drops the levels no
complete row uses (lme4's ``drop.unused.levels``) and builds the designs.
What it learned is kept in a :class:`~bayeshier.spec.recipe.Recipe`. :func:`encode_rows` encodes
any other rows (a chunk of the same data) with a recipe, without learning.
Everything works column by column; nothing is done row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, FormulaError
from bayeshier.spec.columns import check_columns, check_numeric_text, variable_kind
from bayeshier.spec.encode import (
    Design,
    Value,
    build_matrix,
    check_seen,
    evaluate_variable,
    missing_rows,
    plan_design,
    subset,
)
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.factors import GroupingFactor, combine_levels, group_values, variable_levels
from bayeshier.spec.formula import RandomTerm
from bayeshier.spec.levels import FactorValues
from bayeshier.spec.recipe import (
    Recipe,
    recipe_variables,
    response_values,
    row_extras,
    used_columns,
)
from bayeshier.spec.tree import Name, Node, Paren, deparse

__all__ = ["RowData", "complete_rows", "encode_rows", "learn_rows"]


@dataclass(frozen=True, eq=False)
class RowData:
    """The arrays of the complete rows of some data, encoded by a recipe."""

    y: np.ndarray
    X: np.ndarray
    factors: tuple[GroupingFactor, ...]
    kept: np.ndarray | None
    n_rows: int
    recipe: Recipe
    trials: np.ndarray | None = None
    weights: np.ndarray | None = None
    offset: np.ndarray | None = None


def _missing(arrays: list[Value | None], groups: list[np.ndarray], n: int) -> np.ndarray | None:
    """The mask of complete rows, ``None`` when every row is complete."""
    masks = [missing_rows(value) for value in arrays if value is not None]
    masks += [codes == -1 for codes in groups]
    masks = [mask for mask in masks if mask is not None and mask.any()]
    if not masks:
        return None
    return ~np.logical_or.reduce(masks) if len(masks) > 1 else ~masks[0]


def _rows(value: np.ndarray | None, mask: np.ndarray | None) -> np.ndarray | None:
    if value is None:
        return None
    return np.ascontiguousarray(value if mask is None else value[mask], dtype=float)


def _check_finite(values: np.ndarray, name: str) -> None:
    if np.isfinite(np.sum(values)):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"Column {name!r} has {int(bad.sum())} infinite value(s) (first at row {first}: "
            f"{values[first]}). Remove or recode them; missing values (NaN) are dropped, "
            "infinite ones are not."
        )


def _check_matrix(X: np.ndarray, names: tuple[str, ...], where: str = "") -> None:
    if X.size and not np.isfinite(X.sum(axis=0)).all() and not np.isfinite(X).all():
        for j, name in enumerate(names):
            _check_finite(X[:, j], f"{name}{where}")


def _check_extras(
    offset: np.ndarray | None, weights: np.ndarray | None, family: str | None = None
) -> None:
    """Offset and weights finite; weights positive (``>= 0`` with a GLM family, as glmer)."""
    if offset is not None:
        _check_finite(offset, "offset")
    if weights is None:
        return
    _check_finite(weights, "weights")
    glm = family is not None
    bad = weights < 0 if glm else weights <= 0
    if not bad.any():
        return
    count, first = int(bad.sum()), weights[bad][0]
    if glm:
        raise DataError(
            f"weights must be positive or zero, but {count} row(s) have a negative weight "
            f"(first: {first}). Fix or drop those rows."
        )
    raise DataError(
        f"weights must be positive, but {count} row(s) have a weight <= 0 (first: {first}). "
        "Drop those rows: a zero weight makes lme4's criterion infinite."
    )


def _y(response: np.ndarray | FactorValues, name: str) -> np.ndarray:
    if isinstance(response, FactorValues):  # a binary factor: the first level is the failure
        return (response.codes > 0).astype(float)
    _check_finite(response, name)
    return response


@dataclass(eq=False)
class _Evaluated:
    """Every variable of a model evaluated on all rows, and the mask of complete rows."""

    kinds: dict[str, str]
    values: dict[str, Value]
    response: np.ndarray | FactorValues
    trials: np.ndarray | None
    offset: np.ndarray | None
    weights: np.ndarray | None
    groups: dict[str, list]
    mask: np.ndarray | None


def _evaluate_all(recipe: Recipe, data: pd.DataFrame, evaluator: Evaluator) -> _Evaluated:
    nodes = recipe_variables(recipe)
    kinds = {key: _kind(node, data) for key, node in nodes.items()}
    kind = recipe.find_response_kind(data)
    values = {key: evaluate_variable(evaluator, node, kinds[key]) for key, node in nodes.items()}
    response, trials = response_values(recipe, evaluator, kind)
    offset, weights = row_extras(recipe, evaluator)
    groups = {
        name: [
            variable_levels(group_values(node, data, "data"), deparse(node))
            for node in terms[0].group
        ]
        for name, terms in _terms_by_factor(recipe.formula.random).items()
    }
    group_codes = [codes for parts in groups.values() for codes, _, _ in parts]
    mask = _missing([*values.values(), response, trials, offset, weights], group_codes, len(data))
    return _Evaluated(kinds, values, response, trials, offset, weights, groups, mask)


def complete_rows(recipe: Recipe, data: pd.DataFrame) -> np.ndarray | None:
    """The mask of the rows of ``data`` with every variable present (``None``: all rows)."""
    return _evaluate_all(recipe, data, Evaluator(data, {}, learn=True)).mask


def learn_rows(recipe: Recipe, data: pd.DataFrame) -> RowData:
    """Evaluate and learn on ``data``; return its complete rows' arrays and the learned recipe."""
    state: dict[str, object] = {}
    found = _evaluate_all(recipe, data, Evaluator(data, state, learn=True))
    mask, kinds = found.mask, found.kinds
    _check_some_row_complete(mask, recipe, data)
    values = _learned_values(found.values, mask, state)
    response = found.response
    if isinstance(response, FactorValues):
        response = response.restrict(mask, recipe.formula.response)
        state[recipe.formula.response] = response.levels
    else:
        response = _rows(response, mask)
    n = len(data) if mask is None else int(mask.sum())
    fixed = plan_design(recipe.formula.fixed_terms, kinds, values)
    X = build_matrix(fixed, values, n)
    _check_matrix(X, fixed.names)
    offset, weights = _rows(found.offset, mask), _rows(found.weights, mask)
    _check_extras(offset, weights, recipe.family)
    by_factor = _terms_by_factor(recipe.formula.random)
    factors = [
        _grouping_factor(terms, found.groups[name], mask, kinds, values, state)
        for name, terms in by_factor.items()
    ]
    order = sorted(range(len(factors)), key=lambda i: -factors[i].n_levels)
    kind = recipe.find_response_kind(data)
    return RowData(
        y=_y(response, recipe.formula.response),
        X=X,
        factors=tuple(factors[i] for i in order),
        kept=None if mask is None else np.flatnonzero(mask),
        n_rows=len(data),
        recipe=replace(recipe, fixed=fixed, state=state, response_kind=kind),
        trials=_rows(found.trials, mask),
        weights=weights,
        offset=offset,
    )


def _kind(node: Node, data: pd.DataFrame) -> str:
    kind = variable_kind(node, data)
    bare = _unparen(node)
    if kind == "categorical" and isinstance(bare, Name) and bare.id in data.columns:
        check_numeric_text(data[bare.id], bare.id)
    if kind == "unsupported":
        column = deparse(node)
        raise DataError(
            f"Column {column!r} has dtype {data[column].dtype}, which a formula cannot use: "
            "convert it to numbers or to a category first."
        )
    return kind


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.inner
    return node


def _learned_values(
    values: dict[str, Value], mask: np.ndarray | None, state: dict[str, object]
) -> dict[str, Value]:
    """The complete rows of every variable; factors lose unused levels, their levels are kept."""
    result: dict[str, Value] = {}
    for key, value in values.items():
        if isinstance(value, FactorValues):
            value = value.restrict(mask, key)
            state[key] = value.levels
        else:
            value = subset(value, mask, key)
        result[key] = value
    return result


def _terms_by_factor(terms: tuple[RandomTerm, ...]) -> dict[str, list[RandomTerm]]:
    by_name: dict[str, list[RandomTerm]] = {}
    for term in terms:
        by_name.setdefault(term.name, []).append(term)
    return by_name


def _check_some_row_complete(mask: np.ndarray | None, recipe: Recipe, data: pd.DataFrame) -> None:
    """Raise a DataError naming the gaps when no row has every value the formula needs."""
    if mask is None or mask.any():
        return
    gaps = {c: int(data[c].isna().sum()) for c in used_columns(recipe, data)}
    named = ", ".join(f"{c!r}: {n:,} missing" for c, n in gaps.items() if n)
    detail = named or "no column has gaps: an expression of the formula is NaN on every row"
    raise DataError(
        f"No row of the data is complete: each of the {len(data):,} rows lacks a value the "
        f"formula needs ({detail}). Rows with a missing value are dropped, as lme4's na.omit "
        "drops them: fill the gaps, or leave the term with them out of the formula."
    )


def _grouping_factor(
    terms: list[RandomTerm],
    parts: list,
    mask: np.ndarray | None,
    kinds: Mapping[str, str],
    values: Mapping[str, Value],
    state: Mapping[str, object],
) -> GroupingFactor:
    """One factor per grouping expression; its terms become its covariance blocks."""
    first = terms[0]
    codes, levels, level_values, keys = combine_levels(parts, mask)
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
        values=level_values,
        keys=keys,
        nodes=first.group,
    )
    if [term.expr for term in terms] == ["1"]:
        return factor
    designs = tuple(plan_design(term.terms, kinds, values) for term in terms)
    _check_distinct_blocks(terms, designs)
    n = codes.shape[0]
    design = np.column_stack([build_matrix(d, values, n) for d in designs])
    names = tuple(name for d in designs for name in d.names)
    _check_matrix(design, names, f" (in the random effects of {first.name!r})")
    return replace(
        factor,
        terms=names,
        blocks=tuple(d.width for d in designs),
        design=design,
        block_designs=designs,
        state=state,
    )


def _check_distinct_blocks(terms: list[RandomTerm], designs: tuple[Design, ...]) -> None:
    seen: set[tuple[str, ...]] = set()
    for design in designs:
        if design.names in seen:
            sources = ", ".join(dict.fromkeys(term.source for term in terms))
            raise FormulaError(
                f"The random-effect column {design.names[0]!r} of grouping factor "
                f"{terms[0].name!r} appears twice ({sources}): give each block of a grouping "
                "factor different columns, e.g. '(x|g)' or '(1|g) + (0 + x|g)'."
            )
        seen.add(design.names)


def encode_rows(
    recipe: Recipe, factors: tuple[GroupingFactor, ...], data: pd.DataFrame, names: tuple[str, ...]
) -> RowData:
    """Encode the complete rows of ``data`` with a learned recipe (no learning)."""
    check_columns(data, used_columns(recipe, data), "data")
    evaluator = Evaluator(data, dict(recipe.state), learn=False)
    nodes = recipe_variables(recipe, factors)
    kinds = {**recipe.fixed.kinds, **{k: v for f in factors for d in f.block_designs
                                       for k, v in d.kinds.items()}}  # fmt: skip
    values = {key: evaluate_variable(evaluator, node, kinds[key]) for key, node in nodes.items()}
    response, trials = response_values(recipe, evaluator, recipe.response_kind)
    offset, weights = row_extras(recipe, evaluator)
    codes = [factor.encode(data) for factor in factors]
    mask = _missing([*values.values(), response, trials, offset, weights], codes, len(data))
    values = {key: subset(value, mask, key) for key, value in values.items()}
    check_seen({k: values[k] for k in recipe.fixed.nodes}, "data")
    if isinstance(response, FactorValues):
        response = subset(response, mask, recipe.formula.response)
    else:
        response = _rows(response, mask)
    n = len(data) if mask is None else int(mask.sum())
    positions = [recipe.fixed.names.index(name) for name in names]
    X = build_matrix(recipe.fixed, values, n)[:, positions]
    _check_matrix(X, names)
    offset, weights, trials = _rows(offset, mask), _rows(weights, mask), _rows(trials, mask)
    _check_extras(offset, weights, recipe.family)
    rows = np.arange(len(data)) if mask is None else np.flatnonzero(mask)
    encoded = []
    for factor, factor_codes in zip(factors, codes, strict=True):
        chunk = factor.chunk_codes(factor_codes[rows], data, rows)
        design = None if factor.intercept_only else factor.block_columns(values, n)
        encoded.append(replace(factor, codes=chunk, design=design, level_counts=None))
    return RowData(
        y=_y(response, recipe.formula.response),
        X=X,
        factors=tuple(encoded),
        kept=None if mask is None else rows,
        n_rows=len(data),
        recipe=recipe,
        trials=trials,
        weights=weights,
        offset=offset,
    )
