"""A recursive-descent (Pratt) parser for formulas, with R's operator precedence.

From loosest to tightest: ``~``; ``|`` and ``||``; binary ``+ -``; ``* /``;
``%in%`` (any ``%op%``); ``:``; unary ``+ -``; ``^`` (right-associative, also
written ``**``); then calls ``f(...)``, parentheses and atoms. Only a plain
name can be called. The result is a tree of :mod:`bayeshier.spec.tree`
nodes; nothing is evaluated here.
"""

from __future__ import annotations

from functools import lru_cache

from bayeshier.errors import FormulaError
from bayeshier.spec.tokens import ALLOWED_SUMMARY, Kind, Token, pointer, tokenize
from bayeshier.spec.tree import BinOp, Call, Name, Node, Number, Paren, String, UnaryOp

__all__ = ["parse_text"]

#: Left binding powers of the binary operators (``%...%`` share ``%in%``'s).
_BINARY = {"~": 10, "|": 20, "||": 20, "+": 30, "-": 30, "*": 40, "/": 40, ":": 60, "^": 80}
_SPECIAL = 50
_UNARY = 70
_RIGHT_ASSOCIATIVE = {"^"}


@lru_cache(maxsize=512)
def parse_text(text: str) -> Node:
    """Parse a whole formula (or a lone expression) into a tree.

    Raises
    ------
    FormulaError
        On any syntax error, pointing at the offending token.

    """
    if not isinstance(text, str):
        raise FormulaError(f"A formula must be a string, not {type(text).__name__}.")
    parser = _Parser(text, tokenize(text))
    if parser.peek.kind is Kind.END:
        raise FormulaError("The formula is empty: write it as 'response ~ predictors + (1|group)'.")
    node = parser.expression(0)
    if parser.peek.kind is not Kind.END:
        parser.fail(parser.peek, _unexpected(parser.peek))
    return node


def _unexpected(token: Token) -> str:
    if token.kind is Kind.CLOSE:
        return "a ')' without its '('"
    if token.kind is Kind.COMMA:
        return "a ',' outside a function's arguments"
    if token.kind is Kind.EQUALS:
        return "an '=' outside a function's arguments"
    return f"{_describe(token)} follows an expression where an operator was expected"


def _describe(token: Token) -> str:
    if token.kind is Kind.END:
        return "the end of the formula"
    if token.kind is Kind.STRING:
        return f"the string {token.text!r}"
    if token.kind is Kind.QUOTED:
        return f"the name `{token.text}`"
    return (
        f"{token.kind.value} {token.text!r}" if token.kind.value != token.text else repr(token.text)
    )


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token, what: str) -> None:
        raise FormulaError(
            f"In formula {self.text!r}, {what} (position {token.start}):\n"
            f"{pointer(self.text, token.start, max(token.end, token.start + 1))}\n{ALLOWED_SUMMARY}"
        )

    def expect(self, kind: Kind, context: str) -> Token:
        token = self.peek
        if token.kind is not kind:
            if token.kind is Kind.END and kind is Kind.CLOSE:
                self.fail(self.tokens[self._open_before()], "a '(' that is never closed")
            self.fail(token, f"expected {kind.value!r} {context}, found {_describe(token)}")
        return self.advance()

    def _open_before(self) -> int:
        depth = 0
        for index in range(self.index - 1, -1, -1):
            kind = self.tokens[index].kind
            if kind is Kind.CLOSE:
                depth += 1
            elif kind is Kind.OPEN:
                if depth == 0:
                    return index
                depth -= 1
        return 0

    def expression(self, min_power: int) -> Node:
        left = self.prefix()
        while True:
            token = self.peek
            power = self.binary_power(token)
            if power is None or power <= min_power:
                return left
            self.advance()
            right_power = power - 1 if token.text in _RIGHT_ASSOCIATIVE else power
            if self.peek.kind is Kind.END:
                self.fail(token, f"the operator {token.text!r} has nothing on its right")
            right = self.expression(right_power)
            left = BinOp(token.text, left, right, left.start, right.end)

    def binary_power(self, token: Token) -> int | None:
        if token.kind is not Kind.OPERATOR:
            if token.kind in (Kind.NAME, Kind.QUOTED, Kind.NUMBER, Kind.STRING, Kind.OPEN):
                self.fail(token, _unexpected(token))
            return None
        if token.text.startswith("%"):
            return _SPECIAL
        return _BINARY[token.text]

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind is Kind.NUMBER:
            return Number(float(token.text), token.text, token.start, token.end)
        if token.kind is Kind.STRING:
            return String(token.text, token.start, token.end)
        if token.kind is Kind.QUOTED:
            if self.peek.kind is Kind.OPEN:
                self.fail(self.peek, f"the column `{token.text}` is called like a function")
            return Name(token.text, token.start, token.end, quoted=True)
        if token.kind is Kind.NAME:
            if self.peek.kind is Kind.OPEN:
                return self.call(token)
            return Name(token.text, token.start, token.end)
        if token.kind is Kind.OPEN:
            inner = self.expression(0)
            close = self.expect(Kind.CLOSE, "to close the '('")
            if self.peek.kind is Kind.OPEN:
                self.fail(self.peek, "only a function name can be called")
            return Paren(inner, token.start, close.end)
        if token.kind is Kind.OPERATOR and token.text in ("+", "-"):
            operand = self.expression(_UNARY)
            return UnaryOp(token.text, operand, token.start, operand.end)
        if token.kind is Kind.OPERATOR and token.text in ("|", "||"):
            self.fail(
                token,
                "the left side of the bar is empty: write '(1|group)' for a random intercept "
                "or '(x|group)' for an intercept and a slope",
            )
        if token.kind is Kind.OPERATOR and token.text == "~":
            self.fail(token, "the formula has no response on the left of '~'")
        if token.kind is Kind.END:
            self.fail(token, "the formula ends where an expression was expected")
        self.fail(token, f"{_describe(token)} cannot start an expression")
        raise AssertionError  # unreachable: fail raises

    def call(self, name: Token) -> Call:
        self.advance()  # the '('
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        while self.peek.kind is not Kind.CLOSE:
            if self.peek.kind in (Kind.NAME, Kind.QUOTED) and self.next_is_equals():
                key = self.advance()
                self.advance()  # the '='
                if any(existing == key.text for existing, _ in kwargs):
                    self.fail(key, f"the argument {key.text!r} is given twice")
                kwargs.append((key.text, self.expression(0)))
            elif kwargs:
                self.fail(self.peek, "a positional argument follows a keyword argument")
            else:
                args.append(self.expression(0))
            if self.peek.kind is Kind.COMMA:
                self.advance()
                if self.peek.kind is Kind.CLOSE:
                    self.fail(self.peek, f"an argument of {name.text}() is missing after ','")
            elif self.peek.kind is not Kind.CLOSE:
                self.expect(Kind.CLOSE, f"after an argument of {name.text}()")
        close = self.advance()
        if self.peek.kind is Kind.OPEN:
            self.fail(self.peek, "only a function name can be called")
        return Call(name.text, tuple(args), tuple(kwargs), name.start, close.end)

    def next_is_equals(self) -> bool:
        return self.tokens[self.index + 1].kind is Kind.EQUALS
