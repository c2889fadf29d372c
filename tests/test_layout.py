"""The package's shape: modules and functions stay small enough to read.

The limits are those of the layout issue: no module over about 400 lines and
no function over about 50 lines of code (docstrings, comments and blank lines
not counted). The import rules (layers, no cycles) are checked by
import-linter (``lint-imports``, configured in ``pyproject.toml``).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "bayeshier"
MODULE_LINES = 420
FUNCTION_CODE_LINES = 50
MODULES = sorted(PACKAGE.rglob("*.py"))


def _code_lines(source: str, node: ast.AST) -> int:
    """Lines of ``node`` holding code: no blank lines, comments or docstring lines."""
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    body = getattr(node, "body", [])
    docstring = set()
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        docstring = set(range(body[0].lineno, body[0].end_lineno + 1))
    comment_only = _comment_lines("\n".join(lines), node.lineno)
    return sum(
        1
        for number, line in enumerate(lines, start=node.lineno)
        if line.strip() and number not in docstring and number not in comment_only
    )


def _comment_lines(text: str, first: int) -> set[int]:
    found = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT and token.line.strip().startswith("#"):
            found.add(token.start[0] + first - 1)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_at_most_about_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_at_most_50_lines_of_code(path: Path) -> None:
    source = path.read_text()
    long = [
        f"{node.name} ({_code_lines(source, node)} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _code_lines(source, node) > FUNCTION_CODE_LINES
    ]
    assert not long, f"{path.relative_to(PACKAGE)}: {', '.join(long)}"
