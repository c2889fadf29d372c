"""Split a formula into tokens, by R's rules, without evaluating anything.

A formula is data: this module only reads characters. Names follow R
(letters, digits, ``.`` and ``_``, starting with a letter or a ``.`` not
followed by a digit, so ``Sepal.Length`` and ``np.log`` are one name each);
a backtick-quoted name may hold any character but a backtick; numbers may
carry an exponent (``1e-3``) and R's integer suffix ``L``; strings (quoted
with ``"`` or ``'``) are only meaningful as arguments such as ``levels=``.
Any other character (``[``, ``{``, ``$``, ``@``, ``;``, ``!``, ...) is a
:class:`~bayeshier.errors.FormulaError` that points at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bayeshier.errors import FormulaError

__all__ = ["ALLOWED_SUMMARY", "Kind", "Token", "pointer", "tokenize"]


class Kind(Enum):
    """Kinds of token."""

    NAME = "name"
    QUOTED = "quoted name"
    NUMBER = "number"
    STRING = "string"
    OPERATOR = "operator"
    OPEN = "("
    CLOSE = ")"
    COMMA = ","
    EQUALS = "="
    END = "end of the formula"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (for a quoted name or a string, the content), its span."""

    kind: Kind
    text: str
    start: int
    end: int


#: What a formula may hold, for error messages.
ALLOWED_SUMMARY = (
    "A formula is data, never code. It may hold column names (a name that is not "
    "syntactic goes in backticks, e.g. `my col`), numbers, pi, the operators "
    "~ + - * / ^ : %in% | || and parentheses, and calls of the functions listed "
    "in bayeshier.spec.allowlist.FUNCTION_NAMES."
)

_OPERATORS = ("||", "**", "~", "+", "-", "*", "/", "^", ":", "|")
_WHITESPACE = " \t\r\n"
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def _digit(char: str) -> bool:
    return "0" <= char <= "9" and len(char) == 1


def pointer(text: str, start: int, end: int | None = None) -> str:
    """The formula with a caret line under ``text[start:end]``."""
    width = max(1, (end if end is not None else start + 1) - start)
    return f"  {text}\n  {' ' * start}{'^' * width}"


def _error(text: str, start: int, end: int, what: str) -> FormulaError:
    return FormulaError(
        f"In formula {text!r}, {what} (position {start}):\n{pointer(text, start, end)}\n"
        f"{ALLOWED_SUMMARY}"
    )


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``END`` token.

    Raises
    ------
    FormulaError
        On a character that has no place in a formula, an unterminated
        string or backtick name, or a malformed number.

    """
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in _WHITESPACE:
            position += 1
            continue
        token = _next_token(text, position)
        tokens.append(token)
        position = token.end
    tokens.append(Token(Kind.END, "", len(text), len(text)))
    return tokens


def _next_token(text: str, start: int) -> Token:
    char = text[start]
    following = text[start + 1] if start + 1 < len(text) else ""
    if _digit(char) or (char == "." and _digit(following)):
        return _number(text, start)
    if char.isalpha() or char in "._":  # a leading '_' is refused later, with its name
        return _name(text, start)
    if char == "`":
        return _quoted(text, start)
    if char in "\"'":
        return _string(text, start)
    if char == "%":
        return _special_operator(text, start)
    punctuation = {"(": Kind.OPEN, ")": Kind.CLOSE, ",": Kind.COMMA, "=": Kind.EQUALS}
    if char in punctuation:
        if char == "=" and following == "=":
            raise _error(text, start, start + 2, "'==' (a comparison) is not allowed")
        return Token(punctuation[char], char, start, start + 1)
    for operator in _OPERATORS:
        if text.startswith(operator, start):
            # R reads ** as ^: both are powers inside I() and crossing outside it
            shown = "^" if operator == "**" else operator
            return Token(Kind.OPERATOR, shown, start, start + len(operator))
    raise _error(text, start, start + 1, f"the character {char!r} is not allowed")


def _name(text: str, start: int) -> Token:
    end = start + 1
    while end < len(text) and (text[end].isalnum() or text[end] in "._"):
        end += 1
    return Token(Kind.NAME, text[start:end], start, end)


def _number(text: str, start: int) -> Token:
    end = start
    while end < len(text) and (_digit(text[end]) or text[end] == "."):
        end += 1
    if end < len(text) and text[end] in "eE":
        exponent = end + 1
        if exponent < len(text) and text[exponent] in "+-":
            exponent += 1
        if exponent < len(text) and _digit(text[exponent]):
            end = exponent
            while end < len(text) and _digit(text[end]):
                end += 1
    literal = text[start:end]
    if end < len(text) and text[end] == "L":  # R's integer suffix
        end += 1
    if end < len(text) and (text[end].isalnum() or text[end] in "._"):
        raise _error(text, start, end + 1, f"{text[start : end + 1]!r} is not a number")
    try:
        float(literal)
    except ValueError:
        raise _error(text, start, end, f"{literal!r} is not a number") from None
    return Token(Kind.NUMBER, literal, start, end)


def _quoted(text: str, start: int) -> Token:
    close = text.find("`", start + 1)
    if close < 0:
        raise _error(text, start, len(text), "a backtick name is never closed")
    if close == start + 1:
        raise _error(text, start, close + 1, "a backtick name is empty")
    return Token(Kind.QUOTED, text[start + 1 : close], start, close + 1)


def _string(text: str, start: int) -> Token:
    quote = text[start]
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == quote:
            return Token(Kind.STRING, "".join(chars), start, position + 1)
        if char == "\\" and position + 1 < len(text):
            escaped = text[position + 1]
            if escaped not in _ESCAPES:
                raise _error(text, position, position + 2, f"the escape \\{escaped} is not allowed")
            chars.append(_ESCAPES[escaped])
            position += 2
            continue
        chars.append(char)
        position += 1
    raise _error(text, start, len(text), "a string is never closed")


def _special_operator(text: str, start: int) -> Token:
    """R's ``%op%``: ``%in%`` (nesting) is the only one with a meaning in a formula."""
    close = text.find("%", start + 1)
    newline = text.find("\n", start + 1)
    if close < 0 or (0 <= newline < close):
        raise _error(text, start, start + 1, "a '%' operator is never closed")
    return Token(Kind.OPERATOR, text[start : close + 1], start, close + 1)
