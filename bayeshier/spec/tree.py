"""The formula tree: small immutable nodes, and their text as R writes it.

Every node records its span in the formula (``start``, ``end``) so that an
error can point at it. :func:`deparse` writes a node back the way R's
``deparse`` does (spaces around ``+ - *``, none around ``/ ^ :``):
that text names design columns (``I(Days^2)``, ``log(displ.l)``) and is the
key under which a variable's learned state is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "BinOp",
    "Call",
    "Name",
    "Node",
    "Number",
    "Paren",
    "String",
    "UnaryOp",
    "children",
    "deparse",
    "is_syntactic",
    "r_number",
    "strip_parens",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Name:
    """A name: a column (or ``pi``). ``quoted`` if written in backticks."""

    id: str
    start: int
    end: int
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal, with its text as written."""

    value: float
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class String:
    """A string literal (only meaningful as an argument, e.g. ``ref="b"``)."""

    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    """A call ``func(args..., key = value...)``; ``func`` is a name, as written."""

    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]
    start: int
    end: int

    def keyword(self, key: str) -> Node | None:
        """The value of keyword argument ``key``, or ``None``."""
        for name, value in self.kwargs:
            if name == key:
                return value
        return None


@dataclass(frozen=True, slots=True)
class BinOp:
    """A binary operation ``left op right`` (``op`` one of ``~ | || + - * / ^ : %in%``...)."""

    op: str
    left: Node
    right: Node
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class UnaryOp:
    """Unary ``+`` or ``-``."""

    op: str
    operand: Node
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Paren:
    """Parentheses around an expression (kept: they delimit random-effect terms)."""

    inner: Node
    start: int
    end: int


Node = Name | Number | String | Call | BinOp | UnaryOp | Paren

_SPACED = {"+", "-", "*", "~", "|", "||"}


def is_syntactic(name: str) -> bool:
    """Whether R can read ``name`` without backticks (``Sepal.Length`` yes, ``my col`` no)."""
    if not name or not (name[0].isalpha() or name[0] == "."):
        return False
    if name[0] == "." and len(name) > 1 and name[1].isdigit():
        return False
    return all(char.isalnum() or char in "._" for char in name[1:])


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node`` (keyword values included)."""
    if isinstance(node, Call):
        return node.args + tuple(value for _, value in node.kwargs)
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, UnaryOp):
        return (node.operand,)
    if isinstance(node, Paren):
        return (node.inner,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, parents first, left to right."""
    yield node
    for child in children(node):
        yield from walk(child)


def strip_parens(node: Node) -> Node:
    """``node`` without the parentheses around it."""
    while isinstance(node, Paren):
        node = node.inner
    return node


def r_number(value: float) -> str:
    """A number as R deparses it: ``2``, ``2.5``, ``0.001``, ``1e-10`` (15 significant digits)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def deparse(node: Node) -> str:
    """The text of ``node`` as R's ``deparse`` writes it (whitespace and numbers normalised)."""
    if isinstance(node, Name):
        return node.id if is_syntactic(node.id) else f"`{node.id}`"
    if isinstance(node, Number):
        return r_number(node.value)
    if isinstance(node, String):
        escaped = node.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(node, Call):
        parts = [deparse(arg) for arg in node.args]
        parts += [f"{key} = {deparse(value)}" for key, value in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, BinOp):
        spaced = node.op in _SPACED or node.op.startswith("%")
        joint = f" {node.op} " if spaced else node.op
        return f"{deparse(node.left)}{joint}{deparse(node.right)}"
    if isinstance(node, UnaryOp):
        return f"{node.op}{deparse(node.operand)}"
    return f"({deparse(node.inner)})"
