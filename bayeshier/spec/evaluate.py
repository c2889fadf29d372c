"""Evaluate the variables of a checked formula tree into columns, vectorised.

The :class:`Evaluator` walks only the node types and functions of the
allowlist (:mod:`bayeshier.spec.allowlist`) and maps them to numpy: a name
is a column of the data (or ``pi``), arithmetic is numpy arithmetic (``^``
a power), a call dispatches on its allowed name. A numeric variable
evaluates to a float array (NaN where missing); a factor (a text,
categorical or boolean column, or ``factor()``/``C()``/``relevel()``) to
integer codes and its :class:`Levels`.

In learning mode (building a spec) the evaluator records what it learns in
``state``, keyed by the variable's text: the levels of every factor, the
mean and scale of ``scale()``/``center()``, the coefficients of ``poly()``;
stateful transforms learn from every row of the data whose argument is not
missing, as R's ``model.frame`` evaluates them before dropping incomplete
rows. In encoding mode (new data, or another chunk of rows) it uses that
state instead, so the same columns come out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeshier.errors import DataError, FormulaError
from bayeshier.spec import functions as fn
from bayeshier.spec.allowlist import function_of
from bayeshier.spec.columns import check_numeric_text, column_kind, resolve_name
from bayeshier.spec.levels import (
    MISSING,
    FactorValues,
    Levels,
    call_literal,
    check_distinct_labels,
    declare_levels,
    keyword_literal,
    label,
    plain_values,
    unwrap_factor,
)
from bayeshier.spec.tree import BinOp, Call, Name, Node, Number, Paren, UnaryOp, deparse

__all__ = ["Evaluator"]


class Evaluator:
    """Evaluate variables of a formula on ``data`` (see the module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        The rows.
    state : dict
        Learned state by variable text; filled when ``learn`` is true.
    learn : bool
        Learn levels and transforms from ``data`` (else use ``state``).
    where : str
        ``"data"`` or ``"new data"``, for messages.

    """

    def __init__(self, data: pd.DataFrame, state: dict, learn: bool, where: str = "data") -> None:
        self.data = data
        self.n = len(data)
        self.state = state
        self.learn = learn
        self.where = where

    # ------------------------------------------------------------------ numeric
    def numeric(self, node: Node) -> np.ndarray:
        """A numeric variable as a float array of length ``n`` (NaN where missing)."""
        with np.errstate(all="ignore"):
            value = self._value(node)
        return np.broadcast_to(np.asarray(value, dtype=float), (self.n,))

    def _value(self, node: Node) -> np.ndarray | float:
        if isinstance(node, Paren):
            return self._value(node.inner)
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Name):
            return self._column_numbers(node)
        if isinstance(node, UnaryOp):
            operand = self._value(node.operand)
            return -operand if node.op == "-" else operand
        if isinstance(node, BinOp):
            return self._arithmetic(node)
        if isinstance(node, Call):
            return self._call(node)
        raise FormulaError(f"{deparse(node)!r} cannot be evaluated as a number.")

    def _arithmetic(self, node: BinOp) -> np.ndarray | float:
        left, right = self._value(node.left), self._value(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            return np.true_divide(left, right)
        if node.op == "^":
            return np.power(left, right)
        raise FormulaError(f"The operator {node.op!r} in {deparse(node)!r} is not arithmetic.")

    def _column_numbers(self, node: Name, context: str | None = None) -> np.ndarray | float:
        column = resolve_name(node, self.data, self.where)
        if column is None:
            return float(np.pi)
        series = self.data[column]
        kind = column_kind(series)
        if pd.api.types.is_bool_dtype(series.dtype):
            return series.to_numpy(dtype=float, na_value=np.nan)
        if kind != "numeric":
            check_numeric_text(series, column)  # numbers and a "." marker: list the markers
            raise DataError(
                f"Column {column!r} is {kind} (dtype {series.dtype}), so it cannot be used in "
                f"arithmetic{f' in {context!r}' if context else ''}: convert it to numbers "
                "first, or use it as a factor."
            )
        if series.dtype == np.float64:
            return series.to_numpy()
        return series.to_numpy(dtype=float, na_value=np.nan)

    def _call(self, node: Call) -> np.ndarray | float:
        function = function_of(node)
        name = function.name if function is not None else node.func
        if name in fn.UNARY:
            return fn.UNARY[name](self._value(node.args[0]))
        if name == "I":
            return self._value(node.args[0])
        if name == "log":
            return fn.logarithm(self._value(node.args[0]), call_literal(node, "base"))
        if name == "round":
            return fn.rounded(self._value(node.args[0]), call_literal(node, "digits"))
        if name in ("pmin", "pmax"):
            return fn.parallel(name, [self._value(arg) for arg in node.args])
        if name == "as.numeric":
            return self._as_numeric(node)
        if name in ("scale", "center"):
            return self._stateful(node, name)
        raise FormulaError(
            f"{deparse(node)!r} is not a number: {node.func}() has no place in arithmetic."
        )

    def _as_numeric(self, node: Call) -> np.ndarray | float:
        arg = node.args[0]
        if isinstance(arg, Name) and resolve_name(arg, self.data, self.where) is not None:
            series = self.data[arg.id]
            if column_kind(series) == "categorical" and not pd.api.types.is_bool_dtype(series):
                numbers = pd.to_numeric(series.astype(object), errors="coerce")
                bad = numbers.isna() & series.notna()
                if bad.any():
                    raise DataError(
                        f"as.numeric({arg.id}): {int(bad.sum())} value(s) of column "
                        f"{arg.id!r} are not numbers (first: {series[bad].iloc[0]!r})."
                    )
                return numbers.to_numpy(dtype=float, na_value=np.nan)
        return self._value(arg)

    def _stateful(self, node: Call, name: str) -> np.ndarray:
        key = deparse(node)
        x = np.broadcast_to(np.asarray(self._value(node.args[0]), dtype=float), (self.n,))
        if self.learn:
            if name == "center":
                self.state[key] = fn.learn_center(x, key)
            else:
                center = bool(call_literal(node, "center", True))
                scale = bool(call_literal(node, "scale", True))
                self.state[key] = fn.learn_scale(x, center, scale, key)
        return self.state[key].apply(x)

    # ------------------------------------------------------------------ matrix
    def matrix(self, node: Call) -> tuple[np.ndarray, tuple[str, ...]]:
        """``poly(x, degree)``: the columns (n x degree) and their suffixes ``[1]``, ``[2]``..."""
        node = _unparen(node)
        key = deparse(node)
        degree = int(call_literal(node, "degree", 1.0))
        if degree < 1:
            raise DataError(f"{key}: the degree must be at least 1.")
        x = self.numeric(node.args[0])
        with np.errstate(all="ignore"):
            if bool(keyword_literal(node, "raw", False)):
                columns = fn.raw_poly(x, degree)
            else:
                if self.learn:
                    self.state[key] = fn.learn_poly(x, degree, key)
                columns = fn.apply_poly(x, self.state[key])
        return columns, tuple(f"[{i}]" for i in range(1, degree + 1))

    # ------------------------------------------------------------------ factors
    def factor(self, node: Node) -> FactorValues:
        """A factor variable: codes (``MISSING`` where missing) and levels."""
        key = deparse(_unparen(node))
        base, declared, ref = unwrap_factor(node)
        if self.learn:
            codes, levels = self._discover(base)
            if declared is not None:
                codes, levels = declare_levels(codes, levels, declared)
            return FactorValues(codes, levels, ref)
        return self._encode(base, self.state[key])

    def base_values(self, base: Node) -> pd.Series | np.ndarray:
        """The raw values behind a factor: a column, or a numeric expression's values."""
        base = _unparen(base)
        if isinstance(base, Name):
            column = resolve_name(base, self.data, self.where)
            if column is not None:
                return self.data[column]
        return self.numeric(base)

    def _discover(self, base: Node) -> tuple[np.ndarray, Levels]:
        values = self.base_values(base)
        if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            labels = tuple(label(c) for c in categories)
            return values.cat.codes.to_numpy().astype(np.intp, copy=False), Levels(
                labels, plain_values(categories.to_numpy())
            )
        codes, uniques = pd.factorize(values, sort=True)
        uniques = plain_values(np.asarray(uniques))
        labels = tuple(label(v) for v in uniques)
        check_distinct_labels(labels, uniques, deparse(base))
        return codes.astype(np.intp, copy=False), Levels(labels, uniques)

    def _encode(self, base: Node, levels: Levels) -> FactorValues:
        values = self.base_values(base)
        local, uniques = pd.factorize(values)
        uniques = plain_values(np.asarray(uniques))
        try:
            position = pd.Index(levels.values).get_indexer(uniques)
        except (TypeError, ValueError):
            position = np.full(len(uniques), MISSING)
        labels = [label(v) for v in uniques]
        by_label = pd.Index(levels.labels).get_indexer(labels)
        position = np.where(position >= 0, position, by_label)
        unseen: list[str] = []
        for i in np.flatnonzero(position < 0):
            if levels.declared is not None and labels[i] not in levels.declared:
                continue  # outside levels=: missing, as R's factor(x, levels=) makes it
            unseen.append(labels[i])
            position[i] = MISSING - len(unseen)
        # local is -1 where missing: the appended MISSING is its code (also with no values)
        codes = np.append(position, MISSING)[local].astype(np.intp, copy=False)
        return FactorValues(codes, levels, None, tuple(unseen))


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.inner
    return node
