"""Read an lme4 formula: response, fixed terms and random-effect terms.

The whole formula is tokenized (:mod:`~bayeshier.spec.tokens`), parsed into a
tree (:mod:`~bayeshier.spec.parser`) and checked against the allowlist
(:mod:`~bayeshier.spec.allowlist`) before anything is evaluated: a formula
is data, never code. The random-effect terms ``(expr | group)`` are then
taken out of the sum of terms (lme4's ``findbars``/``nobars``), the fixed
part is expanded by R's term algebra (:mod:`~bayeshier.spec.terms`), and
each bar gives one :class:`RandomTerm` per covariance block and grouping
factor: ``(Days||Subject)`` gives two blocks, ``(1|batch/cask)`` the factors
``batch`` and ``cask:batch``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from bayeshier.errors import FormulaError
from bayeshier.spec.allowlist import check, fail, function_of
from bayeshier.spec.parser import parse_text
from bayeshier.spec.terms import TermList, expand_terms, split_uncorrelated
from bayeshier.spec.tree import BinOp, Call, Name, Node, Number, Paren, UnaryOp, deparse, walk

__all__ = [
    "FormulaWarning",
    "ParsedFormula",
    "RandomTerm",
    "parse_expression",
    "parse_formula",
]


class FormulaWarning(UserWarning):
    """A formula R reads otherwise than its writer may have meant (``x^2`` outside ``I()``)."""


@dataclass(frozen=True, eq=False)
class RandomTerm:
    """One block of a random-effect term ``(expr | group)``, for one grouping factor.

    Each block is one block of the random-effects covariance: its columns are
    correlated with each other and independent of every other block's.

    Attributes
    ----------
    variables : tuple of str
        The grouping variables (column names, or expressions such as
        ``factor(x)``) whose interaction forms the grouping factor, in lme4's
        order (``(1|batch/cask)`` gives ``("batch",)`` and ``("cask", "batch")``).
    source : str
        The term as the user wrote it, for error messages.
    expr : str
        The left side's terms as lme4 expands them: ``"1"`` for a random
        intercept, ``"1 + Days"`` for ``(Days|g)``, ``"0 + Days"`` for
        ``(0 + Days|g)``; ``(Days||g)`` gives two blocks, ``"1"`` and ``"0 + Days"``.
    group : tuple of Node
        The grouping variables as trees.
    columns : TermList or None
        The left side's terms.

    """

    variables: tuple[str, ...]
    source: str
    expr: str = "1"
    group: tuple[Node, ...] = field(default=(), repr=False)
    columns: TermList | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The grouping factor's name as lme4 prints it, e.g. ``cask:batch``."""
        return ":".join(self.variables)

    @property
    def terms(self) -> TermList:
        """The left side's terms (a random intercept when none were parsed)."""
        return self.columns if self.columns is not None else TermList(True, ())


@dataclass(frozen=True, eq=False)
class ParsedFormula:
    """An lme4 formula split into the parts bayeshier's engines use.

    Attributes
    ----------
    text : str
        The formula as given.
    response : str
        The left-hand side as R writes it (``"Reaction"``, ``"log(y)"``).
    fixed : str
        The right-hand side without the bar terms, as R writes it (``"1"`` if empty).
    random : tuple of RandomTerm
        The random-effect blocks, in the order written.
    lhs : Node or None
        The left-hand side's tree.
    fixed_terms : TermList or None
        The fixed part's terms and offsets.

    """

    text: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]
    lhs: Node | None = field(default=None, repr=False)
    fixed_terms: TermList | None = field(default=None, repr=False)

    @property
    def fixed_formula(self) -> str:
        """``response ~ fixed``: the fixed part as a formula (what ``lm`` would fit)."""
        return f"{self.response} ~ {self.fixed}"

    @property
    def is_counts(self) -> bool:
        """Whether the response is ``cbind(successes, failures)``."""
        node = _unparen(self.lhs) if self.lhs is not None else None
        return isinstance(node, Call) and node.func == "cbind"


@lru_cache(maxsize=512)
def parse_formula(text: str) -> ParsedFormula:
    """Parse an lme4-style mixed-model formula.

    Parameters
    ----------
    text : str
        For example ``"hwy ~ displ + year + (1|class)"``, ``"y ~ 1 + (1|a) + (1|b)"``,
        ``"strength ~ 1 + (1|batch/cask)"``, ``"Reaction ~ Days + I(Days^2) +
        (Days|Subject)"``, ``(0 + Days|Subject)`` (slope only) or
        ``(Days||Subject)`` (uncorrelated: ``(1|Subject) + (0 + Days|Subject)``).

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        On a syntax error, anything outside the allowlist, a missing
        response, or a formula without a bar term; the message points at
        the offending piece.

    """
    root = _unparen(parse_text(text))
    if not isinstance(root, BinOp) or root.op != "~":
        raise FormulaError(
            f"Formula {text!r} has no '~': write it as 'response ~ predictors + (1|group)'."
        )
    for node in (*walk(root.left), *walk(root.right)):
        if isinstance(node, BinOp) and node.op == "~":
            raise fail(text, node, "the formula needs exactly one '~'")
    check(root.left, "response", text)
    fixed, bars = _split_bars(root.right, text)
    if not bars:
        raise FormulaError(
            f"Formula {text!r} has no random-effect term: add one such as '(1|group)' "
            "or '(x|group)'. For a model without random effects use ordinary least squares."
        )
    if fixed is not None:
        check(fixed, "term", text)
        _warn_power_outside_i(fixed, text)
    random = tuple(block for bar in bars for block in _random_terms(bar, text))
    return ParsedFormula(
        text=text,
        response=deparse(root.left),
        fixed=deparse(fixed) if fixed is not None else "1",
        random=random,
        lhs=root.left,
        fixed_terms=expand_terms(fixed, text),
    )


def parse_expression(text: str) -> Node:
    """Parse and check a lone expression (``weights=``/``offset=`` given as text)."""
    node = parse_text(text)
    check(node, "arith", text)
    return node


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.inner
    return node


def _is_bar(node: Node) -> bool:
    return isinstance(node, BinOp) and node.op in ("|", "||")


def _split_bars(node: Node, text: str) -> tuple[Node | None, list[BinOp]]:
    """Take the parenthesised bar terms out of the sum of terms; return the rest and them."""
    inner = _unparen(node)
    if _is_bar(inner):
        if inner is node:
            raise fail(
                text, node, f"the '{inner.op}' must sit inside parentheses, as in '(1|group)'"
            )
        return None, [inner]
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        left, left_bars = _split_bars(node.left, text)
        right, right_bars = _split_bars(node.right, text) if node.op == "+" else (node.right, [])
        if node.op == "-":
            _refuse_bars(node.right, text)
        return _join(node, left, right), left_bars + right_bars
    if isinstance(node, UnaryOp) and node.op == "+":
        operand, bars = _split_bars(node.operand, text)
        return (node if operand is node.operand else operand), bars
    _refuse_bars(node, text)
    return node, []


def _join(node: BinOp, left: Node | None, right: Node | None) -> Node | None:
    if left is node.left and right is node.right:
        return node
    if right is None:
        return left
    if left is None:
        return right if node.op == "+" else UnaryOp("-", right, node.start, right.end)
    return BinOp(node.op, left, right, left.start, right.end)


def _refuse_bars(node: Node, text: str) -> None:
    for sub in walk(node):
        if _is_bar(sub):
            raise fail(
                text,
                sub,
                "random-effect terms can only be added with '+', as in 'y ~ x + (1|group)'",
            )


def _random_terms(bar: BinOp, text: str) -> list[RandomTerm]:
    source = text[bar.start : bar.end].strip()
    source = f"({source})"
    check(bar.left, "term", text)
    terms = expand_terms(bar.left, text)
    if terms.offsets:
        raise fail(text, bar.left, f"an offset has no place in the random-effect term {source}")
    if not terms.terms and not terms.intercept:
        raise fail(
            text,
            bar,
            f"the term {source!r} has no columns: '0' removes the intercept, so name a "
            "variable too, as in '(0 + x|group)'",
        )
    blocks = split_uncorrelated(terms) if bar.op == "||" else [terms]
    groups = _expand_group(bar.right, source, text)
    return [
        RandomTerm(
            variables=tuple(_group_name(node) for node in group),
            source=source,
            expr=block.text,
            group=group,
            columns=block,
        )
        for group in groups
        for block in blocks
    ]


def _group_name(node: Node) -> str:
    """A grouping variable's name as lme4 writes it: a column's own name, else its text."""
    return node.id if isinstance(node, Name) else deparse(node)


def _expand_group(node: Node, source: str, text: str) -> list[tuple[Node, ...]]:
    """``a/b/c`` -> ``a``, ``b:a``, ``c:b:a``; ``a:b`` -> ``a:b`` (lme4's order)."""
    nests = [_interaction(part, source, text) for part in _nesting_chain(node, source, text)]
    expanded: list[tuple[Node, ...]] = []
    outer: tuple[Node, ...] = ()
    for nest in nests:
        outer = nest + outer
        expanded.append(outer)
    return expanded


def _nesting_chain(node: Node, source: str, text: str) -> list[Node]:
    node = _unparen(node)
    if isinstance(node, BinOp) and node.op == "/":
        return _nesting_chain(node.left, source, text) + _nesting_chain(node.right, source, text)
    return [node]


def _interaction(node: Node, source: str, text: str) -> tuple[Node, ...]:
    node = _unparen(node)
    if isinstance(node, BinOp) and node.op == ":":
        return _interaction(node.left, source, text) + _interaction(node.right, source, text)
    if isinstance(node, Name):
        check(node, "factor", text)
        return (node,)
    if isinstance(node, Call) and function_of(node) is not None:
        check(node, "factor", text)
        return (node,)
    what = deparse(node) if not isinstance(node, BinOp) else node.op
    raise fail(
        text,
        node,
        f"in {source}, the grouping factor must be column names (or factor(x)) joined by "
        f"':' or '/', but found {what!r}",
    )


def _warn_power_outside_i(node: Node, text: str) -> None:
    """R reads ``x^2`` outside ``I()`` as crossing (just ``x``): say so, as it is rarely meant."""
    if isinstance(node, Paren | UnaryOp):
        _warn_power_outside_i(node.inner if isinstance(node, Paren) else node.operand, text)
    elif isinstance(node, BinOp):
        if node.op == "^" and _is_single_variable(node.left):
            warnings.warn(
                f"In formula {text!r}, {deparse(node)} means the interactions of "
                f"{deparse(node.left)} with itself, i.e. {deparse(_unparen(node.left))} "
                f"(R's rule); for a power write I({deparse(node)}).",
                FormulaWarning,
                stacklevel=5,
            )
        _warn_power_outside_i(node.left, text)
        _warn_power_outside_i(node.right, text)


def _is_single_variable(node: Node) -> bool:
    node = _unparen(node)
    return isinstance(node, Name | Call | Number)
