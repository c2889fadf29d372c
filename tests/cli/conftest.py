"""Fixtures of the cli/ tests: running the command line in process on bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bayeshier.cli.main import main


@pytest.fixture
def bad_input(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    """Run ``bayeshier <argv>``, expect exit status 2 and no traceback; return stderr."""

    def run(argv: list[str]) -> str:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    return run
