"""A formula is data, never code: hostile formulas are refused before anything runs.

Every payload below would create a marker file if any part of it were
evaluated as Python. Each is refused with a :class:`FormulaError` (exit status
2 on the command line) through the four entry points -- ``fit_reml``,
``Model``, ``bayeshier reml`` and a model file run by ``bayeshier run`` --
and the marker never appears. The payloads sit in the fixed part, in the
response and inside the random-effect terms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayeshier
from bayeshier.cli.main import main
from bayeshier.errors import FormulaError

#: Payloads; ``{m}`` is the marker file's path.
FIXED = [
    "I(np.__builtins__['exec'](\"import os; os.system('touch {m}')\") or x)",
    "{{exec(\"open('{m}', 'w')\")}}",
    "np.save('{m}', x)",
    "np.save(file = '{m}', arr = x)",
    "exec(\"open('{m}', 'w')\")",
    "eval(\"open('{m}', 'w')\")",
    "open('{m}', 'w')",
    "__import__('os').system('touch {m}')",
    "x.__class__.__init__.__globals__",
    "np.__dict__['save']('{m}', x)",
    "(lambda: open('{m}', 'w'))()",
    "lambda: open('{m}', 'w')",
    "getattr(np, 'save')('{m}', x)",
    "f\"{{open('{m}', 'w')}}\"",
    "[open('{m}', 'w') for _ in x]",
    "np.lib.npyio.save('{m}', x)",
    "pd.read_csv('{m}')",
    "compile(\"open('{m}', 'w')\", 'f', 'exec')",
    "globals()['__builtins__']",
    "os.system('touch {m}')",
    "x; open('{m}', 'w')",
    "x if open('{m}', 'w') else x",
    "log(x, base = open('{m}', 'w'))",
    "C(g, levels = open('{m}', 'w'))",
    "np.save.__call__('{m}', x)",
    "x + np.save('{m}', x):g",
    "offset(np.save('{m}', x))",
    "I(x) + breakpoint()",
]
FORMULAS = [f"y ~ {payload} + (1|g)" for payload in FIXED] + [
    "np.save('{m}', y) ~ x + (1|g)",
    "__import__('os').system('touch {m}') ~ x + (1|g)",
    "cbind(y, open('{m}', 'w')) ~ x + (1|g)",
    "y ~ x + (np.save('{m}', x)|g)",
    "y ~ x + (exec(\"open('{m}', 'w')\")|g)",
    "y ~ x + (1|__import__('os').system('touch {m}'))",
    "y ~ x + (1|open('{m}', 'w'))",
    "y ~ x + (x||np.save('{m}', g))",
    "y ~ x + (1|g.__class__)",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"y": rng.normal(size=40), "x": rng.normal(size=40)})
    data["g"] = np.repeat(list("abcd"), 10)
    data.to_csv(root / "data.csv", index=False)
    return root


@pytest.fixture
def marker(folder: Path) -> Iterator[Path]:
    path = folder / "MARKER"
    assert not path.exists()
    yield path
    assert not path.exists(), "a formula ran code"


def hostile(template: str, marker: Path) -> str:
    return template.format(m=marker)


def test_the_corpus_is_large_enough() -> None:
    assert len(FORMULAS) >= 20 and len(set(FORMULAS)) == len(FORMULAS)


def test_the_marker_would_show_a_run_payload(folder: Path) -> None:
    """Control: running the np.save payload as Python does create the marker."""
    control = folder / "CONTROL"
    np.save(control, np.zeros(1))
    assert control.with_suffix(".npy").exists()


@pytest.mark.parametrize("template", FORMULAS)
def test_fit_reml_refuses(template: str, folder: Path, marker: Path) -> None:
    data = pd.read_csv(folder / "data.csv")
    with pytest.raises(FormulaError):
        bayeshier.fit_reml(hostile(template, marker), data)


@pytest.mark.parametrize("template", FORMULAS)
def test_model_refuses(template: str, folder: Path, marker: Path) -> None:
    data = pd.read_csv(folder / "data.csv")
    with pytest.raises(FormulaError):
        bayeshier.Model(hostile(template, marker), data)


@pytest.mark.parametrize("template", FORMULAS)
def test_bayeshier_reml_refuses(
    template: str, folder: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["reml", hostile(template, marker), "--data", str(folder / "data.csv")])
    assert status == 2
    error = capsys.readouterr().err
    assert "FormulaError" not in error and "Traceback" not in error
    assert "formula" in error.lower()


@pytest.mark.parametrize("template", FORMULAS)
def test_a_model_file_refuses(
    template: str, folder: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file = folder / "hostile.toml"
    model_file.write_text(
        'title = "shared model file"\n\n[[model]]\nname = "m"\ndata = "data.csv"\n'
        f"formula = '''{hostile(template, marker)}'''\n",
        encoding="utf-8",
    )
    status = main(["run", str(model_file), "--out", str(folder / "out"), "--quick"])
    assert status == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert "model 'm'" in error and "formula" in error.lower()
