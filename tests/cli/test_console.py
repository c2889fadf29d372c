"""bayeshier.cli.console: every line on stderr starts with ``bayeshier:``."""

from __future__ import annotations

from bayeshier.cli import console


def test_each_kind_of_line(capsys):
    console.progress("[1/2] model m")
    console.note("UserWarning: x")
    console.warning("m: tail ESS is low")
    console.error("No model file at 'x'")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "bayeshier: [1/2] model m",
        "bayeshier: note: UserWarning: x",
        "bayeshier: warning: m: tail ESS is low",
        "bayeshier: error: No model file at 'x'",
    ]
