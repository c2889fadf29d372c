"""R's ``model.matrix``: from terms and evaluated variables to a design matrix.

The rules are R's. The intercept comes first, then the terms in the order of
:class:`~bayeshier.spec.terms.TermList` (by degree). A factor in a term is
coded by treatment contrasts (its first level is the reference and has no
column) if the term without that factor is contained in an earlier term
(the empty term being the intercept), and by a full set of indicators
otherwise (R's marginality rule: ``a + a:b`` gives ``b``'s contrasts
within every level of ``a``). Without an intercept, the first factor of the
first term holding a factor is coded in full. A numeric variable enters by
value; an interaction is the row-wise product of its variables' columns,
the first variable varying fastest.

Column names follow formulaic's style: ``Intercept``, ``x``, ``a[T.q]``
(contrast), ``a[p]`` (full indicator), ``x:a[T.q]``, ``poly(x, 2)[1]``.
Two columns of one name are a :class:`~bayeshier.errors.DataError` (a data
column called ``Intercept`` next to the intercept): never renamed silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bayeshier.errors import DataError
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.levels import MISSING, FactorValues
from bayeshier.spec.terms import TermList
from bayeshier.spec.tree import Node

__all__ = ["Design", "TermCoding", "build_matrix", "evaluate_design", "plan_design"]

#: An evaluated variable: numbers (n), columns (n x k) with their suffixes, or a factor.
Value = np.ndarray | tuple[np.ndarray, tuple[str, ...]] | FactorValues


@dataclass(frozen=True)
class TermCoding:
    """One term: its variables (first varies fastest) and, per variable, full coding or not."""

    variables: tuple[str, ...]
    full: tuple[bool, ...]


@dataclass(frozen=True, eq=False)
class Design:
    """How to build one model matrix (the fixed part, or one random-effect block).

    Attributes
    ----------
    intercept : bool
        Whether the first column is the intercept.
    terms : tuple of TermCoding
        The terms after the intercept.
    names : tuple of str
        The column names.
    nodes : Mapping of str to Node
        The variables by key (their text).
    kinds : Mapping of str to str
        ``numeric``, ``categorical`` or ``matrix`` per variable.

    """

    intercept: bool
    terms: tuple[TermCoding, ...]
    names: tuple[str, ...]
    nodes: Mapping[str, Node]
    kinds: Mapping[str, str]

    @property
    def width(self) -> int:
        """Number of columns."""
        return len(self.names)


def plan_design(terms: TermList, kinds: Mapping[str, str], values: Mapping[str, Value]) -> Design:
    """The :class:`Design` of ``terms``, given each variable's kind and evaluated value."""
    codings: list[TermCoding] = []
    earlier: list[frozenset[str]] = []
    first_factor_done = terms.intercept
    for term in terms.terms:
        full = []
        for key in term:
            reduced = frozenset(term) - {key}
            contained = not reduced or any(reduced <= previous for previous in earlier)
            full.append(kinds[key] == "categorical" and not contained)
        if not first_factor_done and any(kinds[key] == "categorical" for key in term):
            first = next(i for i, key in enumerate(term) if kinds[key] == "categorical")
            full[first] = True
            first_factor_done = True
        codings.append(TermCoding(term, tuple(full)))
        earlier.append(frozenset(term))
    names = ["Intercept"] if terms.intercept else []
    for coding in codings:
        names.extend(_term_names(coding, values))
    _check_distinct_names(names, terms.intercept)
    return Design(terms.intercept, tuple(codings), tuple(names), terms.variables, kinds)


def _check_distinct_names(names: list[str], intercept: bool) -> None:
    """Raise a :class:`DataError` when two columns of a design would share a name.

    A data column called ``Intercept`` next to the intercept (or a column
    ``a[T.b]`` next to level ``b`` of a factor ``a``) would make two
    coefficients of one name, and every table indexed by them ambiguous:
    it is refused, not renamed behind the user's back.
    """
    if len(set(names)) == len(names):
        return
    twice = list(dict.fromkeys(name for name in names if names.count(name) > 1))
    if intercept and "Intercept" in twice:
        raise DataError(
            "The data have a column named 'Intercept', which the formula uses: its "
            "coefficient would have the name of the intercept's. Rename the column, e.g. "
            "data = data.rename(columns={'Intercept': 'intercept_x'}), or drop the "
            "intercept with '0 +' if that column is the intercept."
        )
    raise DataError(
        f"The design would hold two columns named {', '.join(map(repr, twice))}: a column "
        "of the data is named like a coefficient of another term. Rename that column."
    )


def _variable_names(key: str, full: bool, value: Value) -> list[str]:
    if isinstance(value, FactorValues):
        labels = value.levels.labels if full else value.levels.labels[1:]
        return [f"{key}[{lab}]" if full else f"{key}[T.{lab}]" for lab in labels]
    if isinstance(value, tuple):
        return [f"{key}{suffix}" for suffix in value[1]]
    return [key]


def _term_names(coding: TermCoding, values: Mapping[str, Value]) -> list[str]:
    names = [""]
    for key, full in zip(coding.variables, coding.full, strict=True):
        parts = _variable_names(key, full, values[key])
        names = [f"{name}:{part}" if name else part for part in parts for name in names]
    return names


def _variable_columns(full: bool, value: Value, n: int) -> list[np.ndarray]:
    if isinstance(value, FactorValues):
        count = len(value.levels.labels)
        start = 0 if full else 1
        return [(value.codes == level).astype(float) for level in range(start, count)]
    if isinstance(value, tuple):
        return [value[0][:, j] for j in range(value[0].shape[1])]
    return [value]


def build_matrix(design: Design, values: Mapping[str, Value], n: int) -> np.ndarray:
    """The design matrix (n x width) from the evaluated variables of complete rows."""
    X = np.empty((n, design.width), order="F")
    column = 0
    if design.intercept:
        X[:, 0] = 1.0
        column = 1
    for coding in design.terms:
        columns: list[np.ndarray | None] = [None]
        for key, full in zip(coding.variables, coding.full, strict=True):
            parts = _variable_columns(full, values[key], n)
            columns = [
                part if prior is None else prior * part for part in parts for prior in columns
            ]
        for values_j in columns:
            X[:, column] = values_j
            column += 1
    return X


def evaluate_design(design: Design, evaluator: Evaluator) -> tuple[dict[str, Value], np.ndarray]:
    """Evaluate a design's variables with frozen state; return them and the rows missing one."""
    values: dict[str, Value] = {}
    missing = np.zeros(evaluator.n, dtype=bool)
    for key, node in design.nodes.items():
        value = evaluate_variable(evaluator, node, design.kinds[key])
        rows = missing_rows(value)
        if rows is not None:
            missing |= rows
        values[key] = value
    return values, missing


def evaluate_variable(evaluator: Evaluator, node: Node, kind: str) -> Value:
    """One variable of the given kind."""
    if kind == "categorical":
        return evaluator.factor(node)
    if kind == "matrix":
        return evaluator.matrix(node)
    return evaluator.numeric(node)


def missing_rows(value: Value) -> np.ndarray | None:
    """Rows where the variable is missing (NaN, or a missing factor level); ``None`` if none."""
    if isinstance(value, FactorValues):
        missing = value.codes == MISSING
        return missing if missing.any() else None
    numbers = value[0] if isinstance(value, tuple) else value
    if np.isfinite(np.sum(numbers)):  # one fast pass: no NaN (nor inf) anywhere
        return None
    missing = np.isnan(numbers)
    return missing.any(axis=1) if missing.ndim > 1 else missing


def subset(value: Value, mask: np.ndarray | None, name: str) -> Value:
    """The rows of ``mask`` of an evaluated variable (``None``: all rows)."""
    if isinstance(value, FactorValues):
        return (
            value
            if mask is None
            else FactorValues(value.codes[mask], value.levels, value.ref, value.unseen)
        )
    if mask is None:
        return value
    if isinstance(value, tuple):
        return value[0][mask], value[1]
    return value[mask]


def check_seen(values: Mapping[str, Value], where: str) -> None:
    """Raise a :class:`DataError` naming a factor level that was not learned."""
    for key, value in values.items():
        if isinstance(value, FactorValues) and (value.codes < MISSING).any():
            unseen = value.unseen_in(value.codes)
            raise DataError(
                f"The {where} hold level(s) {', '.join(map(repr, unseen))} of {key!r}, which "
                f"the model was not fitted on (its levels: {', '.join(value.levels.labels)}): "
                "a fixed effect has no estimate for them. Drop those rows, or recode them to "
                "one of the fitted levels."
            )
