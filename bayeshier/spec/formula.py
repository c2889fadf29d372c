"""Split an lme4-style formula into its fixed part and its random-effect terms.

The fixed part is handed to `formulaic` unchanged (it parses, encodes and
rebuilds it for new data); this module only finds the parenthesised bar
terms ``(expr | group)`` among formulaic's tokens -- lme4's ``findbars`` /
``nobars`` -- and expands the grouping expression (``a/b`` means ``a`` and
``b:a``, exactly as lme4 writes it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from formulaic import Formula
from formulaic.errors import FormulaicError
from formulaic.parser.algos.tokenize import tokenize
from formulaic.parser.types import Token

from bayeshier.errors import FormulaError

__all__ = ["ParsedFormula", "RandomTerm", "parse_formula", "python_names"]

_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(expr | group)`` after expansion of ``/`` and ``||``.

    Each term is one block of the random-effects covariance: its columns
    are correlated with each other and independent of every other term's.

    Attributes
    ----------
    variables : tuple of str
        Data columns whose interaction forms the grouping factor, in lme4's
        order (``(1|batch/cask)`` gives ``("batch",)`` and ``("cask", "batch")``).
    source : str
        The term as the user wrote it, for error messages.
    expr : str
        The left side of the bar as formulaic normalizes it: ``"1"`` for a
        random intercept, ``"1 + Days"`` for ``(Days|g)``, ``"0 + Days"`` for
        ``(0 + Days|g)``. ``(Days||g)`` becomes two terms, ``"1"`` and ``"0 + Days"``.

    """

    variables: tuple[str, ...]
    source: str
    expr: str = "1"

    @property
    def name(self) -> str:
        """The grouping factor's name as lme4 prints it, e.g. ``cask:batch``."""
        return ":".join(self.variables)


@dataclass(frozen=True)
class ParsedFormula:
    """An lme4 formula split into the parts bayeshier's engines use.

    Attributes
    ----------
    text : str
        The formula as given.
    response : str
        The left-hand side (a column name or an expression formulaic evaluates).
    fixed : str
        The right-hand side with every bar term removed (``"1"`` if none is left).
    random : tuple of RandomTerm
        The random-intercept terms, in the order written.

    """

    text: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]

    @property
    def fixed_formula(self) -> str:
        """``response ~ fixed`` for formulaic."""
        return f"{self.response} ~ {self.fixed}"


def parse_formula(text: str) -> ParsedFormula:
    """Parse an lme4-style mixed-model formula.

    Parameters
    ----------
    text : str
        For example ``"hwy ~ displ + year + (1|class)"``, ``"y ~ 1 + (1|a) + (1|b)"``,
        ``"strength ~ 1 + (1|batch/cask)"``, ``"Reaction ~ Days + (Days|Subject)"``
        (correlated intercept and slope), ``(0 + Days|Subject)`` (slope only) or
        ``(Days||Subject)`` (uncorrelated: lme4 expands it to ``(1|Subject) +
        (0 + Days|Subject)``).

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        On a syntax error (the message points at the position), a missing
        response, a formula without any bar term, or a bar term whose left
        side formulaic cannot read.

    """
    if not isinstance(text, str) or "~" not in text:
        raise FormulaError(
            f"Formula {text!r} has no '~': write it as 'response ~ predictors + (1|group)'."
        )
    tokens = _tokenize(text)
    tilde = [i for i, token in enumerate(tokens) if token.token == "~"]
    if len(tilde) != 1 or tilde[0] == 0:
        raise FormulaError(
            f"Formula {text!r} needs exactly one '~' with the response on its left, "
            "e.g. 'y ~ x + (1|g)'."
        )
    response = text[: tokens[tilde[0]].source_start].strip()
    rhs_tokens = tokens[tilde[0] + 1 :]
    rhs_start = tokens[tilde[0]].source_end + 1
    spans, random_terms = _extract_bar_terms(text, rhs_tokens)
    fixed = _remove_spans(text, rhs_start, spans)
    if not random_terms:
        raise FormulaError(
            f"Formula {text!r} has no random-effect term: add one such as '(1|group)' "
            "or '(x|group)'. For a model without random effects use ordinary least squares."
        )
    parsed = ParsedFormula(text=text, response=response, fixed=fixed, random=random_terms)
    _check_fixed_part(parsed)
    return parsed


def _tokenize(text: str) -> list[Token]:
    try:
        return list(tokenize(text))
    except FormulaicError as error:
        raise FormulaError(f"Cannot read formula {text!r}: {plain_message(error)}") from None


def _extract_bar_terms(
    text: str, tokens: list[Token]
) -> tuple[list[tuple[int, int]], tuple[RandomTerm, ...]]:
    """Find top-level ``( ... | ... )`` groups; return their source spans and terms."""
    spans: list[tuple[int, int]] = []
    terms: list[RandomTerm] = []
    depth = 0
    opened_at = 0
    for index, token in enumerate(tokens):
        if token.token == "(":
            depth += 1
            if depth == 1:
                opened_at = index
        elif token.token == ")":
            depth -= 1
            if depth < 0:
                _syntax_error(text, token, "a ')' without its '('")
            if depth == 0:
                inner = tokens[opened_at + 1 : index]
                if any(t.token in ("|", "||") for t in inner):
                    source = text[tokens[opened_at].source_start : token.source_end + 1]
                    spans.append(_span_with_plus(tokens, opened_at, index, source))
                    terms.extend(_bar_term(source, inner))
    if depth > 0:
        _syntax_error(text, tokens[opened_at], "a '(' that is never closed")
    for token in tokens:
        if depth == 0 and token.token in ("|", "||") and not _inside_any(token, spans):
            raise FormulaError(
                f"In formula {text!r}, the '{token.token}' at position {token.source_start} "
                "must sit inside parentheses, as in '(1|group)'."
            )
    return spans, tuple(terms)


def _inside_any(token: Token, spans: list[tuple[int, int]]) -> bool:
    return any(start <= token.source_start <= end for start, end in spans)


def _span_with_plus(
    tokens: list[Token], open_index: int, close_index: int, source: str
) -> tuple[int, int]:
    """Source span of a bar term, with the '+' that joins it to the formula."""
    start = tokens[open_index].source_start
    end = tokens[close_index].source_end
    if open_index > 0 and tokens[open_index - 1].token == "+":
        start = tokens[open_index - 1].source_start
    elif close_index + 1 < len(tokens) and tokens[close_index + 1].token == "+":
        end = tokens[close_index + 1].source_end
    elif open_index > 0:
        before = tokens[open_index - 1].token
        raise FormulaError(
            f"The term {source!r} follows {before!r}: "
            "random-effect terms can only be added with '+'."
        )
    return start, end


def _bar_term(source: str, inner: list[Token]) -> list[RandomTerm]:
    bar = next(i for i, t in enumerate(inner) if t.token in ("|", "||"))
    if bar == 0:
        raise FormulaError(
            f"In {source!r}, the left side of the bar is empty: write '(1|group)' for a "
            "random intercept or '(x|group)' for an intercept and a slope."
        )
    left = " ".join(t.token for t in inner[:bar])
    exprs = _random_expressions(source, left, uncorrelated=inner[bar].token == "||")
    groups = _expand_group(source, inner[bar + 1 :])
    return [RandomTerm(variables, source, expr) for variables in groups for expr in exprs]


def _random_expressions(source: str, left: str, uncorrelated: bool) -> list[str]:
    """The left side of a bar as formulaic reads it; ``||`` splits it like lme4.

    lme4's ``expandDoubleVerts`` turns ``(x + z || g)`` into ``(1|g) + (0 + x|g)
    + (0 + z|g)``: one term per formula term, the intercept on its own.
    """
    try:
        terms = [str(term) for term in Formula(left)]
    except Exception as error:  # formulaic raises its own errors and Python's SyntaxError
        raise FormulaError(
            f"Cannot read the left side {left!r} of {source!r}: {plain_message(error)}"
        ) from None
    if not terms:
        raise FormulaError(
            f"The term {source!r} has no columns: '0' removes the intercept, so name a "
            "variable too, as in '(0 + x|group)'."
        )
    if not uncorrelated:
        return [" + ".join(terms) if "1" in terms else " + ".join(["0", *terms])]
    return [term if term == "1" else f"0 + {term}" for term in terms]


def _expand_group(source: str, tokens: list[Token]) -> list[tuple[str, ...]]:
    """``a/b/c`` -> ``a``, ``b:a``, ``c:b:a``; ``a:b`` -> ``a:b`` (lme4's order)."""
    nests: list[list[str]] = [[]]
    expect_name = True
    for token in tokens:
        if expect_name:
            if token.kind.value != "name":
                raise FormulaError(
                    f"In {source!r}, the grouping factor must be column names joined by "
                    f"':' or '/', but found {token.token!r}."
                )
            nests[-1].append(token.token)
        elif token.token == "/":
            nests.append([])
        elif token.token != ":":
            raise FormulaError(
                f"In {source!r}, {token.token!r} cannot join grouping columns: use ':' "
                "for an interaction or '/' for nesting."
            )
        expect_name = not expect_name
    if expect_name:
        raise FormulaError(f"In {source!r}, the grouping factor is missing after the bar.")
    expanded: list[tuple[str, ...]] = []
    outer: tuple[str, ...] = ()
    for nest in nests:
        outer = tuple(nest) + outer
        expanded.append(outer)
    return expanded


def python_names(text: str) -> set[str]:
    """Every identifier used inside the Python expressions of a formula.

    ``"y ~ center(x) + np.log(z)"`` gives ``{"center", "x", "np", "z"}``.
    """
    names: set[str] = set()
    for token in _tokenize(text):
        if token.kind.value != "python":
            continue
        try:
            tree = ast.parse(token.token, mode="eval")
        except SyntaxError:
            continue
        names.update(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))
    return names


def plain_message(error: Exception) -> str:
    """Formulaic's error message without terminal color codes."""
    return _ANSI_CODES.sub("", str(error))


def _remove_spans(text: str, start: int, spans: list[tuple[int, int]]) -> str:
    pieces = []
    cursor = start
    for span_start, span_end in sorted(spans):
        pieces.append(text[cursor:span_start])
        cursor = span_end + 1
    pieces.append(text[cursor:])
    fixed = " ".join("".join(pieces).split())
    return fixed if fixed else "1"


def _check_fixed_part(parsed: ParsedFormula) -> None:
    try:
        Formula(parsed.fixed_formula)
    except FormulaicError as error:
        raise FormulaError(
            f"Cannot read the fixed part {parsed.fixed!r} of formula {parsed.text!r}: "
            f"{plain_message(error)}"
        ) from None


def _syntax_error(text: str, token: Token, what: str) -> None:
    pointer = " " * token.source_start + "^"
    raise FormulaError(f"Formula has {what}:\n  {text}\n  {pointer}")
