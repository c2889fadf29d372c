"""Grouping factors: their levels, the level code of every row, their random-effect columns.

A grouping factor is the interaction of one or more grouping variables
(``Subject``, ``cask:batch``, ``factor(x)``), held as integer codes and
level labels -- never as a dense indicator matrix. Levels follow R: the
categories' order for a categorical column, sorted values otherwise;
interactions are labelled ``a:A`` and sorted with the first variable
slowest, as lme4 does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.spec.columns import resolve_name
from bayeshier.spec.encode import Design, build_matrix, check_seen, evaluate_design, subset
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.levels import (
    MISSING,
    check_distinct_labels,
    label,
    plain_values,
    unwrap_factor,
)
from bayeshier.spec.tree import Name, Node

__all__ = ["GroupingFactor", "combine_levels", "group_values", "variable_levels"]


@dataclass(frozen=True, eq=False)
class GroupingFactor:
    """A grouping factor of the random effects.

    Attributes
    ----------
    name : str
        As lme4 prints it (``"Subject"``, ``"cask:batch"``).
    variables : tuple of str
        The grouping variables (columns, or expressions such as ``factor(x)``)
        whose interaction forms the factor.
    levels : tuple of str
        Level labels in lme4's order (interaction labels as ``"a:A"``).
    codes : numpy.ndarray or None
        Integer level code of every retained row; ``None`` when the spec
        holds no rows (a Dask DataFrame).
    terms : tuple of str
        Names of the random-effect columns per level (``("Intercept",)``,
        ``("Intercept", "Days")``); a name may repeat across blocks, as in
        lme4's ``(1|g) + (x|g)``.
    blocks : tuple of int
        Sizes of the independent covariance blocks, in the order of
        :attr:`terms`: ``(2,)`` for ``(Days|Subject)`` (intercept and slope
        correlated), ``(1, 1)`` for ``(Days||Subject)``.
    design : numpy.ndarray or None
        The random-effect columns of every retained row (n x k), ``None`` for
        a random intercept alone (a column of ones is never stored) or when
        the spec holds no rows.
    block_designs : tuple of Design
        How to build every block's columns (for new data); empty for a
        random intercept alone.
    state : Mapping
        The learned levels and transforms the block designs use.
    values : tuple of numpy.ndarray
        For every variable, its values in level order (the raw values behind
        the labels), to encode new chunks of rows.
    keys : numpy.ndarray or None
        For an interaction, the used combinations of the variables' value
        positions (row-major), sorted: level ``j`` is ``keys[j]``.
    level_counts : numpy.ndarray or None
        Number of rows in each level (set when the spec is finished).
    nodes : tuple of Node
        The grouping variables as formula trees.

    """

    name: str
    variables: tuple[str, ...]
    levels: tuple[str, ...]
    codes: np.ndarray | None
    terms: tuple[str, ...] = ("Intercept",)
    blocks: tuple[int, ...] = (1,)
    design: np.ndarray | None = field(default=None, repr=False)
    block_designs: tuple[Design, ...] = field(default=(), repr=False)
    state: Mapping[str, object] = field(default_factory=dict, repr=False)
    values: tuple[np.ndarray, ...] = field(default=(), repr=False)
    keys: np.ndarray | None = field(default=None, repr=False)
    level_counts: np.ndarray | None = field(default=None, repr=False)
    nodes: tuple[Node, ...] = field(default=(), repr=False)

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
        return not self.block_designs

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
        """The random-effect columns of new rows, encoded as in the fit (NaN where missing)."""
        if self.intercept_only:
            return np.ones((len(data), 1))
        evaluator = Evaluator(data, dict(self.state), learn=False, where="new data")
        parts = []
        for design in self.block_designs:
            values, missing = evaluate_design(design, evaluator)
            check_seen(values, "new data")
            block = build_matrix(design, values, len(data))
            block[missing] = np.nan
            parts.append(block)
        return np.column_stack(parts)

    def counts(self) -> np.ndarray:
        """Number of rows in each level (counted once, when the spec is finished)."""
        if self.codes is None or self.level_counts is not None:
            return self.level_counts
        return np.bincount(self.codes, minlength=self.n_levels)

    def labels_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level labels of the rows of ``data``, written as in :attr:`levels`."""
        parts = [
            pd.Series(group_values(node, data, "new data"), index=data.index)
            .map(label, na_action="ignore")
            .astype(str)
            for node in self._nodes()
        ]
        labels = parts[0]
        for part in parts[1:]:
            labels = labels + ":" + part
        return labels.to_numpy(dtype=str)

    def codes_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level codes of the rows of ``data``; -1 marks a level not seen in fitting."""
        return pd.Index(self.levels).get_indexer(self.labels_for(data))

    def _nodes(self) -> tuple[Node, ...]:
        return self.nodes or tuple(Name(v, 0, 0, quoted=True) for v in self.variables)

    def encode(self, data: pd.DataFrame) -> np.ndarray:
        """Level codes of rows from their raw values: ``MISSING`` (-1), or below for unseen.

        Unlike :meth:`codes_for` no labels are formed: each variable is
        factorized and its few distinct values are looked up in
        :attr:`values`, so a chunk of millions of rows encodes fast.
        """
        combined = np.zeros(len(data), dtype=np.int64)
        missing = np.zeros(len(data), dtype=bool)
        unseen = np.zeros(len(data), dtype=bool)
        for node, values in zip(self._nodes(), self.values, strict=True):
            local, uniques = pd.factorize(group_values(node, data, "data"))
            uniques = np.asarray(uniques)
            try:
                position = pd.Index(values).get_indexer(uniques.astype(values.dtype))
            except (TypeError, ValueError):
                position = np.full(len(uniques), -1)
            codes = np.append(position, 0)[local]  # local is -1 where missing
            missing |= local < 0
            unseen |= (local >= 0) & (codes < 0)
            combined = combined * len(values) + np.maximum(codes, 0)
        if self.keys is not None:
            found = np.minimum(np.searchsorted(self.keys, combined), len(self.keys) - 1)
            unseen |= self.keys[found] != combined
            combined = found
        codes = np.where(unseen, MISSING - 1, combined)
        return np.where(missing, MISSING, codes).astype(np.intp, copy=False)

    def chunk_codes(self, codes: np.ndarray, data: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """``codes`` of complete rows; a level the spec was not built with is an error.

        ``rows`` are the positions of those rows in ``data``.
        """
        if (codes < 0).any():
            position = int(rows[np.flatnonzero(codes < 0)[0]])
            value = str(self.labels_for(data.iloc[[position]])[0])
            raise DataError(
                f"A chunk of rows holds the level {value!r} of {self.name!r}, which was not "
                "there when the levels were collected: did the data change while bayeshier "
                "read them? Fit again on data that do not change."
            )
        return codes

    def block_columns(self, values: Mapping[str, object], n: int) -> np.ndarray:
        """The random-effect columns (n x k) from the evaluated variables of complete rows."""
        check_seen({k: values[k] for d in self.block_designs for k in d.nodes}, "data")
        return np.column_stack([build_matrix(d, values, n) for d in self.block_designs])


def group_values(node: Node, data: pd.DataFrame, where: str) -> pd.Series | np.ndarray:
    """The raw values of a grouping variable: a column, or an expression's values."""
    if isinstance(node, Name):
        column = resolve_name(node, data, where)
        if column is not None:
            return data[column]
    base, _, _ = unwrap_factor(node)
    return Evaluator(data, {}, learn=True, where=where).base_values(base)


def variable_levels(
    values: pd.Series | np.ndarray, name: str = "grouping variable"
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes (-1 missing), labels and values of one grouping variable, in R's level order.

    Raises a :class:`~bayeshier.errors.DataError` naming ``name`` when two
    distinct values print as one label (``1`` and ``"1"``).
    """
    codes, labels, uniques = _sorted_levels(values)
    check_distinct_labels(labels, uniques, name)
    return codes, labels, uniques


def _sorted_levels(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        return (
            values.cat.codes.to_numpy().astype(np.intp, copy=False),
            [label(c) for c in categories],
            plain_values(categories.to_numpy()),
        )
    codes, uniques = pd.factorize(values)
    uniques = plain_values(np.asarray(uniques))
    if len(uniques) > 1:  # sort the few distinct values, not the rows (R's sorted levels)
        try:
            order = np.argsort(uniques, kind="stable")
        except TypeError:  # values of several types: pandas' sort puts them in order
            codes, uniques = pd.factorize(values, sort=True)
            uniques = plain_values(np.asarray(uniques))
            return codes.astype(np.intp, copy=False), labels_of(uniques), uniques
        if (order != np.arange(len(order))).any():
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            codes = np.where(codes >= 0, rank[codes], codes)
            uniques = uniques[order]
    return codes.astype(np.intp, copy=False), labels_of(uniques), uniques


def labels_of(values: np.ndarray) -> list[str]:
    """The labels of distinct values (:func:`~bayeshier.spec.levels.label` of each)."""
    if values.dtype.kind == "O" and all(type(v) is str for v in values):
        return list(values)
    if values.dtype.kind in "iub":
        return [str(v) for v in values.tolist()]
    return [label(v) for v in values.tolist()]


def _used(
    codes: np.ndarray, labels: list[str], values: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Drop the levels no row uses (codes are all >= 0)."""
    used = np.bincount(codes, minlength=len(labels)) > 0
    if used.all():
        return codes, labels, values
    position = np.cumsum(used) - 1
    kept = np.flatnonzero(used)
    return position[codes], [labels[i] for i in kept], values[kept]


def combine_levels(
    parts: list[tuple[np.ndarray, list[str], np.ndarray]], mask: np.ndarray | None
) -> tuple[np.ndarray, tuple[str, ...], tuple[np.ndarray, ...], np.ndarray | None]:
    """Codes, labels, values and keys of the interaction of the variables (first slowest).

    ``parts`` are :func:`variable_levels` of every variable over all rows,
    ``mask`` the complete rows; levels no complete row uses are dropped.
    """
    restricted = [_used(codes if mask is None else codes[mask], labels, values)
                  for codes, labels, values in parts]  # fmt: skip
    if len(restricted) == 1:
        codes, labels, values = restricted[0]
        return codes.astype(np.intp, copy=False), tuple(labels), (values,), None
    combined = np.zeros(restricted[0][0].shape[0], dtype=np.int64)
    for codes, labels, _ in restricted:
        combined = combined * len(labels) + codes
    used, codes = np.unique(combined, return_inverse=True)
    label_parts = [np.asarray(labels, dtype=object) for _, labels, _ in restricted]
    digits = np.unravel_index(used, [len(part) for part in label_parts])
    level_labels = tuple(
        ":".join(part[d] for part, d in zip(label_parts, combo, strict=True))
        for combo in zip(*digits, strict=True)
    )
    values = tuple(values for _, _, values in restricted)
    return codes.astype(np.intp, copy=False), level_labels, values, used


def chunk_values(values: Mapping[str, object], mask: np.ndarray | None) -> dict[str, object]:
    """The evaluated variables of the rows of ``mask``."""
    return {key: subset(value, mask, key) for key, value in values.items()}
