"""What a formula may call, and the check that runs before anything is evaluated.

:data:`FUNCTIONS` is the whole allowlist: every call in a formula must name
one of these functions (R's spelling, or numpy's with an ``np.`` prefix for
the numeric ones), with the arguments it accepts. :func:`check` walks a tree
and raises a :class:`~bayeshier.errors.FormulaError` naming the offending
piece, with its position, on anything else: attribute access, unknown
functions, strings outside ``levels=``/``ref=``, dunder names. Nothing in a
formula ever reaches Python's ``eval``; the evaluator of
:mod:`bayeshier.spec.evaluate` dispatches on these names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bayeshier.errors import FormulaError
from bayeshier.spec.tokens import pointer
from bayeshier.spec.tree import BinOp, Call, Name, Node, Number, Paren, String, UnaryOp

__all__ = [
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "Context",
    "Function",
    "check",
    "expression_args",
    "function_of",
    "literal_value",
    "names_in",
]

Context = Literal["term", "arith", "factor", "response"]
Kind = Literal["numeric", "categorical", "matrix", "offset", "identity", "counts", "vector"]


@dataclass(frozen=True)
class Function:
    """An allowed function: what it returns and the arguments it takes.

    Attributes
    ----------
    name : str
        R's name.
    kind : str
        ``numeric`` (one number per row), ``categorical`` (a factor),
        ``matrix`` (several columns: ``poly``), ``offset``, ``identity``
        (``I``), ``counts`` (``cbind``, the response only), ``vector``
        (``c``, the value of ``levels=`` only).
    positional : tuple of (int, int)
        Least and most positional arguments (-1: any number).
    literals : tuple of str
        Keyword arguments, which take literal values; a positional argument
        after the first is the first of them (``log(x, 2)`` is ``log(x, base = 2)``).
    usage : str
        How it is written, for error messages and the README.

    """

    name: str
    kind: Kind
    positional: tuple[int, int]
    literals: tuple[str, ...]
    usage: str


def _numeric(name: str) -> Function:
    return Function(name, "numeric", (1, 1), (), f"{name}(x)")


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("log", "numeric", (1, 2), ("base",), "log(x, base = exp(1))"),
        *(
            _numeric(name)
            for name in (
                "log2 log10 log1p exp expm1 sqrt abs sin cos tan floor ceiling as.numeric".split()
            )
        ),
        Function("round", "numeric", (1, 2), ("digits",), "round(x, digits = 0)"),
        Function("pmin", "numeric", (1, -1), (), "pmin(x, y, ...)"),
        Function("pmax", "numeric", (1, -1), (), "pmax(x, y, ...)"),
        Function("I", "identity", (1, 1), (), "I(x^2) (arithmetic: ^ is a power inside I())"),
        Function(
            "scale", "numeric", (1, 1), ("center", "scale"), "scale(x, center = TRUE, scale = TRUE)"
        ),
        Function("center", "numeric", (1, 1), (), "center(x)"),
        Function("poly", "matrix", (1, 2), ("degree", "raw"), "poly(x, degree = 1, raw = FALSE)"),
        Function("offset", "offset", (1, 1), (), "offset(x)"),
        Function(
            "factor",
            "categorical",
            (1, 1),
            ("levels", "ref"),
            'factor(x, levels = c(...), ref = "a")',
        ),
        Function("as.factor", "categorical", (1, 1), ("levels", "ref"), "as.factor(x)"),
        Function("C", "categorical", (1, 1), ("levels", "ref"), 'C(x, ref = "a")'),
        Function("relevel", "categorical", (1, 2), ("ref",), 'relevel(x, ref = "a")'),
        Function("cbind", "counts", (2, 2), (), "cbind(successes, failures) (response only)"),
        Function("c", "vector", (1, -1), (), 'c("a", "b") (the value of levels = only)'),
    ]
}

#: numpy's spellings (after ``np.`` or ``numpy.``) of the numeric functions.
NUMPY_NAMES = {
    **{
        name: name
        for name in "log log2 log10 log1p exp expm1 sqrt abs sin cos tan floor round".split()
    },
    "absolute": "abs",
    "ceil": "ceiling",
    "around": "round",
    "minimum": "pmin",
    "maximum": "pmax",
}
_NUMPY_PREFIXES = ("np.", "numpy.")
#: Names every formula may use without a column of that name.
CONSTANTS = {"pi", "np.pi", "numpy.pi"}
_BOOLEANS = {"TRUE": True, "FALSE": False, "T": True, "F": False, "True": True, "False": False}
_RESERVED = {
    "if", "else", "repeat", "while", "function", "for", "in", "next", "break",
    "NULL", "NA", "NaN", "Inf", "TRUE", "FALSE", "lambda",
}  # fmt: skip
_ARITHMETIC = {"+", "-", "*", "/", "^"}
#: Functions all of whose positional arguments are expressions (not literals).
_ALL_EXPRESSIONS = {"pmin", "pmax", "cbind"}
_TERM_OPERATORS = {"+", "-", "*", "/", ":", "^", "%in%"}

#: The user-facing list of allowed functions.
FUNCTION_NAMES = tuple(name for name in FUNCTIONS if name not in ("c",))


def allowed_functions() -> str:
    """One line listing the allowed functions, for error messages."""
    names = ", ".join(FUNCTION_NAMES)
    return (
        f"Allowed functions: {names} (numpy spellings such as np.log, np.sqrt, np.ceil "
        "are accepted for the numeric ones); operators + - * / ^ (a power inside I() and "
        "function arguments), : * / %in% ^ for terms, | || for random effects."
    )


def function_of(call: Call) -> Function | None:
    """The allowed function ``call`` names (numpy spellings mapped to R's), or ``None``."""
    name = call.func
    for prefix in _NUMPY_PREFIXES:
        if name.startswith(prefix):
            alias = NUMPY_NAMES.get(name[len(prefix) :])
            return FUNCTIONS[alias] if alias else None
    return FUNCTIONS.get(name)


def expression_args(call: Call) -> tuple[Node, ...]:
    """The arguments of ``call`` that are expressions (not literals such as a degree)."""
    function = function_of(call)
    if function is not None and function.name in _ALL_EXPRESSIONS:
        return call.args
    return call.args[:1]


def names_in(node: Node) -> list[Name]:
    """The names an expression refers to, left to right (literal arguments skipped)."""
    node = _unparen(node)
    if isinstance(node, Name):
        return [node]
    if isinstance(node, Call):
        return [name for arg in expression_args(node) for name in names_in(arg)]
    if isinstance(node, BinOp):
        return names_in(node.left) + names_in(node.right)
    if isinstance(node, UnaryOp):
        return names_in(node.operand)
    return []


def literal_value(node: Node) -> object:
    """The Python value of a literal argument: number, string, boolean or ``c(...)``."""
    node = _unparen(node)
    if isinstance(node, Number):
        return node.value
    if isinstance(node, UnaryOp) and isinstance(_unparen(node.operand), Number):
        value = _unparen(node.operand).value
        return -value if node.op == "-" else value
    if isinstance(node, String):
        return node.value
    if isinstance(node, Name) and not node.quoted and node.id in _BOOLEANS:
        return _BOOLEANS[node.id]
    if isinstance(node, Call) and node.func == "c" and not node.kwargs:
        return tuple(literal_value(arg) for arg in node.args)
    raise ValueError("not a literal")


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.inner
    return node


def fail(text: str, node: Node, what: str) -> FormulaError:
    """A :class:`FormulaError` about ``node`` in ``text``, listing what is allowed."""
    return FormulaError(
        f"In formula {text!r}, {what} (position {node.start}):\n"
        f"{pointer(text, node.start, node.end)}\n"
        "A formula is data, never code: it may name columns, numbers and pi, and call "
        f"the allowed functions only. {allowed_functions()}"
    )


def check(node: Node, context: Context, text: str) -> None:
    """Raise a :class:`FormulaError` on the first piece of ``node`` that is not allowed.

    ``context`` says where ``node`` sits: ``term`` (the predictors: ``:``,
    ``*``, ``/``, ``%in%`` and ``^`` are R's term operators), ``arith``
    (inside ``I()`` and function arguments: ``^`` is a power),
    ``factor`` (the argument of ``factor()`` or ``C()``: arithmetic or a
    factor) or ``response``.
    """
    if isinstance(node, Paren):
        check(node.inner, context, text)
    elif isinstance(node, Name):
        _check_name(node, text)
    elif isinstance(node, Number):
        if context == "term" and node.value not in (0.0, 1.0):
            raise fail(
                text, node, f"the number {node.text} stands alone as a term (only 0 or 1 can)"
            )
    elif isinstance(node, String):
        raise fail(text, node, f"the string {node.value!r} is not an argument of levels= or ref=")
    elif isinstance(node, UnaryOp):
        check(node.operand, context, text)
    elif isinstance(node, BinOp):
        _check_operator(node, context, text)
    else:
        _check_call(node, context, text)


def _check_name(node: Name, text: str) -> None:
    if node.quoted:
        return
    if "__" in node.id:
        raise fail(text, node, f"the name {node.id!r} (a Python dunder) is not allowed")
    if node.id.startswith("_"):
        raise fail(text, node, f"the name {node.id!r} starts with '_': put a column in backticks")
    if node.id in _RESERVED:
        raise fail(
            text, node, f"{node.id!r} is a reserved word; a column of that name goes in backticks"
        )


def _check_operator(node: BinOp, context: Context, text: str) -> None:
    if node.op in ("~", "|", "||"):
        raise fail(text, node, f"{node.op!r} cannot appear here")
    if context == "term":
        if node.op not in _TERM_OPERATORS:
            raise fail(text, node, f"the operator {node.op!r} has no meaning in a formula")
        check(node.left, context, text)
        if node.op == "^":
            _check_exponent(node.right, text)
        else:
            check(node.right, context, text)
        return
    if node.op not in _ARITHMETIC:
        raise fail(
            text, node, f"the operator {node.op!r} is not arithmetic (inside I() use + - * / ^)"
        )
    check(node.left, "arith", text)
    check(node.right, "arith", text)


def _check_exponent(node: Node, text: str) -> None:
    try:
        value = literal_value(node)
    except ValueError:
        value = None
    if not isinstance(value, float) or value < 1 or not value.is_integer():
        raise fail(
            text,
            node,
            "'^' between terms takes a whole number, as in (a + b + c)^2 (for a power "
            "write I(x^2))",
        )


def _check_call(node: Call, context: Context, text: str) -> None:
    function = function_of(node)
    if function is None:
        raise fail(text, node, f"the function {node.func!r} is not allowed")
    where = _placement_error(function, context)
    if where:
        raise fail(text, node, f"{node.func}() {where}")
    _check_arguments(node, function, text)
    first_context: Context = "factor" if function.kind == "categorical" else "arith"
    expressions = node.args if function.name in _ALL_EXPRESSIONS else node.args[:1]
    for arg in expressions:
        check(arg, first_context, text)
    for arg in node.args[len(expressions) :]:
        _check_literal(node, function.literals[0], arg, text)
    for key, value in node.kwargs:
        _check_literal(node, key, value, text)


def _placement_error(function: Function, context: Context) -> str | None:
    kind = function.kind
    if kind == "counts":
        return None if context == "response" else "is only allowed as the response"
    if kind == "vector":
        return "is only allowed as the value of levels ="
    if kind == "offset":
        return None if context == "term" else "is only allowed as a term of the formula"
    if kind == "matrix" and context not in ("term",):
        return "gives several columns: use it as a term of the formula"
    if kind == "categorical" and context not in ("term", "factor"):
        return "gives a factor, which has no place in arithmetic"
    return None


def _check_arguments(node: Call, function: Function, text: str) -> None:
    least, most = function.positional
    count = len(node.args)
    if count < least or (most >= 0 and count > most):
        expected = (
            f"{least}" if least == most else f"{least} to {most}" if most >= 0 else f"{least}+"
        )
        raise fail(
            text,
            node,
            f"{node.func}() takes {expected} positional argument(s), not {count}: {function.usage}",
        )
    for key, _ in node.kwargs:
        if key not in function.literals:
            accepted = ", ".join(f"{k} =" for k in function.literals) or "no keyword arguments"
            raise fail(text, node, f"{node.func}() has no argument {key!r} (it takes {accepted})")


def _check_literal(node: Call, key: str, value: Node, text: str) -> None:
    try:
        literal = literal_value(value)
    except ValueError:
        raise fail(
            text,
            value,
            f"the argument {key} of {node.func}() must be a literal (a number, a string, "
            "TRUE/FALSE or c(...) of them)",
        ) from None
    expected = {
        "base": float, "digits": float, "degree": float, "center": bool, "scale": bool,
        "raw": bool, "ref": (str, float), "levels": (tuple, str, float),
    }[key]  # fmt: skip
    if not isinstance(literal, expected) or (isinstance(literal, bool) and expected is float):
        raise fail(text, value, f"the argument {key} of {node.func}() has the wrong type")
    if isinstance(literal, tuple) and not all(isinstance(v, str | float) for v in literal):
        raise fail(text, value, f"levels of {node.func}() must be strings or numbers")
