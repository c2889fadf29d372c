"""R's term algebra: from the tree of the predictors to the list of terms.

A term is a set of variables (an interaction; one variable for a main
effect). The operators expand as in R's ``terms.formula``:

- ``a + b`` is the union, ``a - b`` removes ``b``'s terms (``- 1`` the intercept);
- ``a:b`` gives every union of a term of ``a`` with a term of ``b``;
- ``a * b`` is ``a + b + a:b``;
- ``a / b`` is ``a + A:b`` and ``b %in% a`` is ``b:A``, with ``A`` all the
  variables of ``a`` together (``(a + x)/z`` is ``a + x + a:x:z``);
- ``(a + b + c)^2`` is every interaction of up to two of the terms;
- ``0``, ``+ 0`` and ``- 1`` remove the intercept, ``1`` adds it;
- ``offset(x)`` is not a term: offsets are collected apart.

Terms are then ordered by degree (formula order within a degree), and the
variables of a term by their first appearance in the formula, so that
``b:a + a`` gives the terms ``a`` and ``b:a``, exactly as R.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bayeshier.spec.allowlist import fail, function_of, literal_value
from bayeshier.spec.tree import BinOp, Call, Node, Number, Paren, UnaryOp, deparse

__all__ = ["TermList", "expand_terms", "split_uncorrelated"]


@dataclass(frozen=True, eq=False)
class TermList:
    """The terms of a formula part.

    Attributes
    ----------
    intercept : bool
        Whether the part has an intercept.
    terms : tuple of tuple of str
        Each term's variables (keys, see :attr:`variables`), ordered by degree.
    variables : Mapping of str to Node
        Every variable by its key (its text as R deparses it), in order of
        first appearance.
    offsets : tuple of Node
        The arguments of the ``offset()`` terms.

    """

    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    variables: Mapping[str, Node] = field(default_factory=dict)
    offsets: tuple[Node, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """The terms as R labels them (``a``, ``a:b``)."""
        return tuple(":".join(term) for term in self.terms)

    @property
    def text(self) -> str:
        """``1 + x + a:b`` or ``0 + x``: the part as lme4's expanded terms write it."""
        return " + ".join(["1" if self.intercept else "0", *self.labels])


@dataclass
class _Set:
    """Terms of a sub-expression: ordered, without repeats; deletions and offsets apart."""

    terms: list[frozenset[str]] = field(default_factory=list)
    intercept: bool | None = None
    deleted: list[frozenset[str]] = field(default_factory=list)
    offsets: list[Node] = field(default_factory=list)


def expand_terms(node: Node | None, text: str, *, intercept: bool = True) -> TermList:
    """Expand ``node`` (already checked by :func:`bayeshier.spec.allowlist.check`).

    ``node`` ``None`` is an empty part (the intercept alone, if ``intercept``).
    """
    if node is None:
        return TermList(intercept, ())
    variables: dict[str, Node] = {}
    result = _Expander(text, variables).visit(node)
    kept = [term for term in result.terms if term not in result.deleted]
    order = {key: position for position, key in enumerate(variables)}
    ordered = sorted(kept, key=len)  # stable: formula order within a degree
    terms = tuple(tuple(sorted(term, key=order.__getitem__)) for term in ordered)
    used = {key for term in terms for key in term}
    return TermList(
        intercept=intercept if result.intercept is None else result.intercept,
        terms=terms,
        variables={key: node for key, node in variables.items() if key in used},
        offsets=tuple(result.offsets),
    )


def split_uncorrelated(terms: TermList) -> list[TermList]:
    """lme4's ``||``: the intercept alone, then each term alone without intercept."""
    blocks = [TermList(True, (), {})] if terms.intercept else []
    for term in terms.terms:
        variables = {key: terms.variables[key] for key in term}
        blocks.append(TermList(False, (term,), variables))
    return blocks


class _Expander:
    def __init__(self, text: str, variables: dict[str, Node]) -> None:
        self.text = text
        self.variables = variables

    def visit(self, node: Node) -> _Set:
        if isinstance(node, Paren):
            return self.visit(node.inner)
        if isinstance(node, Number):
            return _Set(intercept=node.value == 1.0)
        if isinstance(node, UnaryOp):
            inner = self.visit(node.operand)
            return self.negate(inner, node) if node.op == "-" else inner
        if isinstance(node, BinOp):
            return self.binary(node)
        if isinstance(node, Call) and (function := function_of(node)) and function.kind == "offset":
            return _Set(offsets=[node.args[0]])
        return self.variable(node)

    def variable(self, node: Node) -> _Set:
        key = deparse(node)
        self.variables.setdefault(key, node)
        return _Set(terms=[frozenset([key])])

    def negate(self, inner: _Set, node: Node) -> _Set:
        if inner.offsets:
            raise fail(self.text, node, "an offset cannot be removed with '-'")
        flipped = None if inner.intercept is None else not inner.intercept
        return _Set(intercept=flipped, deleted=inner.terms + inner.deleted)

    def binary(self, node: BinOp) -> _Set:
        left = self.visit(node.left)
        if node.op == "^":
            return _power(left, int(literal_value(node.right)))
        right = self.visit(node.right)
        if node.op == "-":
            return _plus(left, self.negate(right, node.right))
        if node.op == "+":
            return _plus(left, right)
        if left.offsets or right.offsets:
            raise fail(self.text, node, f"an offset cannot be part of {node.op!r}")
        if node.op == ":":
            return _Set(terms=_products(left.terms, right.terms))
        if node.op == "*":
            return _plus(_plus(left, right), _Set(terms=_products(left.terms, right.terms)))
        if node.op == "/":
            outer = frozenset().union(*left.terms)
            return _plus(left, _Set(terms=_products([outer], right.terms)))
        # %in%: the left side's terms within all the right side's variables
        inner = frozenset().union(*right.terms)
        return _Set(terms=_products(left.terms, [inner]))


def _unique(terms: list[frozenset[str]]) -> list[frozenset[str]]:
    return list(dict.fromkeys(term for term in terms if term))


def _products(left: list[frozenset[str]], right: list[frozenset[str]]) -> list[frozenset[str]]:
    return _unique([a | b for a in left for b in right])


def _plus(left: _Set, right: _Set) -> _Set:
    return _Set(
        terms=_unique(left.terms + right.terms),
        intercept=left.intercept if right.intercept is None else right.intercept,
        deleted=left.deleted + right.deleted,
        offsets=left.offsets + right.offsets,
    )


def _power(base: _Set, degree: int) -> _Set:
    terms = list(base.terms)
    for _ in range(degree - 1):
        terms = _unique(terms + _products(terms, base.terms))
    return _Set(terms=terms, intercept=base.intercept, offsets=list(base.offsets))
