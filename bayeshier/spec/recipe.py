"""The recipe of a model: its formula, its weights and offset, what was learned.

A :class:`Recipe` says how the rows of a data frame become a spec's arrays:
the parsed formula, the family the response is for, the ``weights=`` and
``offset=`` arguments (column names or expressions, which are parsed and
checked like a formula, or values matched to the rows by index), and, once
learned, the fixed-effects design and the learned state (levels,
transforms) that rebuild the columns for other rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, ModelError
from bayeshier.spec.allowlist import names_in
from bayeshier.spec.columns import check_numeric_text, resolve_name, variable_kind
from bayeshier.spec.encode import Design
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.factors import GroupingFactor
from bayeshier.spec.formula import ParsedFormula
from bayeshier.spec.levels import FactorValues
from bayeshier.spec.tree import Call, Node

__all__ = [
    "Recipe",
    "aligned",
    "recipe_variables",
    "response_values",
    "row_extras",
    "used_columns",
]

#: Families whose response may be ``cbind(successes, failures)`` or a factor.
_BINARY_FAMILIES = {"binomial"}


@dataclass(frozen=True, eq=False)
class Recipe:
    """How rows become the spec's arrays: the formula, the extra row variables, what was learned.

    Attributes
    ----------
    formula : ParsedFormula
        The parsed formula.
    family : str or None
        The response family the spec is built for (``None``: Gaussian).
    weights, offset : Node or None
        ``weights=`` / ``offset=`` given as a column name or an expression.
    weights_array, offset_array : pandas.Series or None
        ``weights=`` / ``offset=`` given as values, indexed like the data.
    fixed : Design or None
        The fixed-effects design (set once learned).
    state : Mapping
        Learned levels and transforms, by variable text.
    response_kind : str
        ``numeric``, ``counts`` (``cbind(s, f)``) or ``factor`` (set once learned).

    """

    formula: ParsedFormula
    family: str | None = None
    weights: Node | None = None
    offset: Node | None = None
    weights_array: pd.Series | None = field(default=None, repr=False)
    offset_array: pd.Series | None = field(default=None, repr=False)
    fixed: Design | None = field(default=None, repr=False)
    state: Mapping[str, object] = field(default_factory=dict, repr=False)
    response_kind: str = "numeric"

    @property
    def has_weights(self) -> bool:
        """Whether the rows carry prior weights."""
        return self.weights is not None or self.weights_array is not None

    @property
    def has_offset(self) -> bool:
        """Whether the rows carry an offset (``offset()`` terms or ``offset=``)."""
        return bool(self.formula.fixed_terms.offsets) or (
            self.offset is not None or self.offset_array is not None
        )

    def find_response_kind(self, data: pd.DataFrame) -> str:
        """``numeric``, ``counts`` (``cbind(s, f)``) or ``factor``, checked against the family."""
        if self.formula.is_counts:
            kind = "counts"
        else:
            kind = "factor" if variable_kind(self.formula.lhs, data) != "numeric" else "numeric"
        response = self.formula.response
        if kind == "factor" and response in data.columns:  # "." among numbers: say so
            check_numeric_text(data[response], response)
        if kind == "numeric" or self.family in _BINARY_FAMILIES:
            return kind
        if kind == "counts":
            raise ModelError(
                f"The response {response!r} holds binomial counts: fit it with "
                "bayeshier.fit_glmm(..., family='binomial'). fit_reml and Model fit a "
                "numeric (Gaussian) response."
            )
        dtype = data[response].dtype if response in data.columns else "category"
        raise DataError(
            f"The response {response!r} is not numeric (dtype {dtype}): a linear mixed model "
            "needs a numeric response; convert it first (a binary factor is a binomial "
            "response: bayeshier.fit_glmm(..., family='binomial'))."
        )


def recipe_variables(recipe: Recipe, factors: tuple[GroupingFactor, ...] = ()) -> dict[str, Node]:
    """Every variable of the fixed part and the random effects, by text (learned designs if any)."""
    if recipe.fixed is not None:
        nodes = dict(recipe.fixed.nodes)
        for factor in factors:
            for design in factor.block_designs:
                nodes.update(design.nodes)
        return nodes
    nodes = dict(recipe.formula.fixed_terms.variables)
    for term in recipe.formula.random:
        nodes.update(term.terms.variables)
    return nodes


def used_columns(recipe: Recipe, data: pd.DataFrame) -> list[str]:
    """The columns of ``data`` the model uses; a missing one raises :class:`DataError`."""
    formula = recipe.formula
    nodes = [formula.lhs, *formula.fixed_terms.variables.values(), *formula.fixed_terms.offsets]
    nodes += [node for term in formula.random for node in term.terms.variables.values()]
    nodes += [node for term in formula.random for node in term.group]
    nodes += [node for node in (recipe.weights, recipe.offset) if node is not None]
    used: list[str] = []
    for node in nodes:
        for name in names_in(node):
            column = resolve_name(name, data, "data")
            if column is not None and column not in used:
                used.append(column)
    return used


def aligned(values: pd.Series, data: pd.DataFrame, what: str) -> np.ndarray:
    """Values given as an array, for the rows of ``data`` (matched by index label)."""
    if values.index.equals(data.index):
        return values.to_numpy(dtype=float, na_value=np.nan)
    if values.index.is_unique and data.index.isin(values.index).all():
        return values.reindex(data.index).to_numpy(dtype=float, na_value=np.nan)
    raise DataError(
        f"{what}= was given as values, which cannot be matched to these rows: give it as "
        f"a column name ({what}='column') instead."
    )


def row_extras(recipe: Recipe, evaluator: Evaluator) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The offset (``offset()`` terms and ``offset=`` added up) and the weights of every row."""
    parts = [evaluator.numeric(node) for node in recipe.formula.fixed_terms.offsets]
    if recipe.offset is not None:
        parts.append(evaluator.numeric(recipe.offset))
    if recipe.offset_array is not None:
        parts.append(aligned(recipe.offset_array, evaluator.data, "offset"))
    offset = np.sum(parts, axis=0) if parts else None
    weights = None
    if recipe.weights is not None:
        weights = np.asarray(evaluator.numeric(recipe.weights))
    elif recipe.weights_array is not None:
        weights = aligned(recipe.weights_array, evaluator.data, "weights")
    return offset, weights


def response_values(
    recipe: Recipe, evaluator: Evaluator, kind: str
) -> tuple[np.ndarray | FactorValues, np.ndarray | None]:
    """The response (numbers, or a factor) and, for ``cbind(s, f)``, the trials ``s + f``."""
    lhs = recipe.formula.lhs
    if kind == "counts":
        assert isinstance(lhs, Call)
        successes = evaluator.numeric(lhs.args[0])
        return successes, successes + evaluator.numeric(lhs.args[1])
    if kind == "factor":
        return evaluator.factor(lhs), None
    return evaluator.numeric(lhs), None
