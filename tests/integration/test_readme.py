"""The README's Python examples run as written, and its numbers are what they print.

Each ```python block of README.md is self-contained (its own imports and
data) and runs in a fresh namespace, as a reader pasting it would run it.
The Dask block needs a running cluster (``Client("tcp://scheduler:8786")``)
and is checked by ``tests/integration/test_dask.py`` instead; blocks that
sample are marked ``sampling``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
NEEDS_A_CLUSTER = "Client("
SAMPLES = re.compile(r"\.sample(_posterior_predictive)?\(")


def _runnable_blocks() -> list[tuple[int, str]]:
    return [(i, block) for i, block in enumerate(BLOCKS) if NEEDS_A_CLUSTER not in block]


def test_the_readme_has_python_examples() -> None:
    assert len(_runnable_blocks()) >= 3


@pytest.mark.parametrize(
    "position",
    [
        pytest.param(i, marks=pytest.mark.sampling) if SAMPLES.search(block) else i
        for i, block in _runnable_blocks()
    ],
)
def test_readme_block_runs(position: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # anything a block saves lands in a temporary folder
    source = BLOCKS[position]
    if SAMPLES.search(source):  # a few draws are enough to check that the code runs
        source = source.replace(".sample()", ".sample(draws=100, tune=100, chains=2)")
    source = source.replace("nsim=500", "nsim=20")  # the bootstrap's code path, quickly
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few draws and replicates: tests the code, not the fit
        exec(compile(source, f"README block {position}", "exec"), namespace)


def test_readme_numbers_are_what_the_code_prints() -> None:
    """The figures quoted in the README's comments, recomputed."""
    import bayeshier
    from bayeshier import datasets

    sleep = datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bayeshier.fit_reml("Reaction ~ Days + (Days|Subject)", sleep)
        fit0 = bayeshier.fit_reml("Reaction ~ Days + (1|Subject)", sleep)
        profile = fit.confint(parm="sd_(Intercept)|Subject")
        table = bayeshier.anova(fit0, fit)
    assert profile.loc["sd_(Intercept)|Subject"].round(2).tolist() == [14.38, 37.72]
    assert round(table["Chisq"].iloc[1], 2) == 42.14
    assert "14.38 to 37.72" in README.read_text()
    assert "Chisq 42.14 on 2 Df" in README.read_text()
