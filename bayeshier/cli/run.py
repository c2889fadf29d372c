"""``bayeshier run``: every model of a model file, fitted, sampled, saved and reported.

:func:`run_file` first prepares every model (reads its data, builds it, fits
REML, or Laplace for a GLMM), so that bad input in any model fails before
anything is sampled, and checks that ``--out`` can take the output. Then,
model by model (:mod:`bayeshier.cli.model_run`), it samples the posterior,
draws the posterior predictive, prints the side-by-side table, draws the plots
and saves the posterior; last it writes ``comparison.csv`` and
``report.html``. Progress goes to stderr, the tables to stdout.

Everything is written to a temporary folder next to ``--out``, moved into
place only when complete (:mod:`bayeshier.cli.output_folder`). Ctrl-C, or a
sample that stopped early (fewer draws than asked, or ``attrs["interrupted"]``),
ends the run with :class:`~bayeshier.cli.interrupts.Interrupted`: its message
says what was kept. Once a model's files are written, its model (with the
compiled sampler), its posterior and its figures are let go before the next.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt

from bayeshier.cli import console, interrupts, modelfile, output_folder, writing
from bayeshier.cli.model_run import PreparedModel, prepare, run_model

if TYPE_CHECKING:
    from bayeshier._choices import Likelihood

__all__ = [
    "QUICK",
    "PreparedModel",
    "RunOptions",
    "prepare",
    "run_file",
    "sampler_settings",
    "with_likelihood",
    "with_na_values",
]

#: Sampler settings of ``--quick``.
QUICK = {"draws": 200, "tune": 200, "chains": 2}


@dataclass(frozen=True)
class RunOptions:
    """What the command line says on top of the model file (the flags of ``bayeshier run``).

    Attributes
    ----------
    out : str or None
        Output folder (default: ``out/<file stem>``).
    draws, tune, chains, seed : int or None
        Override every model's sampler setting when given.
    likelihood : {"auto", "full", "collapsed"} or None
        Overrides every model's ``likelihood`` when given.
    quick : bool
        Sample with :data:`QUICK` (``draws``, ``tune`` and ``chains`` still win).
    na_values : tuple of str
        Values of CSV files that mean "missing", added to the model file's.

    """

    out: str | None = None
    draws: int | None = None
    tune: int | None = None
    chains: int | None = None
    seed: int | None = None
    likelihood: Likelihood | None = None
    quick: bool = False
    na_values: tuple[str, ...] = ()


@dataclass
class _Stage:
    """What the run is doing, and what Ctrl-C now would leave (the message of Interrupted)."""

    doing: str
    kept: str

    def interrupted(self) -> interrupts.Interrupted:
        return interrupts.Interrupted(f"interrupted {self.doing}: {self.kept}")


def run_file(path: str | Path, options: RunOptions) -> Path:
    """Run every model of a model file and write the report; return the report's path.

    Parameters
    ----------
    path : str or pathlib.Path
        The model file.
    options : RunOptions
        The command line's overrides.

    Returns
    -------
    pathlib.Path
        ``report.html`` in the output folder, next to ``comparison.csv``, the
        file's plots and one folder per model.

    Raises
    ------
    BayeshierError
        Bad input (the file, its data, a formula, an output folder that
        cannot take the output); raised before any sampling.
    Interrupted
        Ctrl-C, or a sample stopped early; the output folder is as it was.

    """
    started = time.perf_counter()
    model_file = with_na_values(
        with_likelihood(modelfile.load(path), options.likelihood), options.na_values
    )
    out = Path(os.path.abspath(options.out or Path("out") / model_file.stem))
    before = "is unchanged" if os.path.lexists(out) else "was not created"
    kept = f"nothing of this run was kept (its output appears only when complete); {out} {before}"
    stage = _Stage("while preparing the models", kept)
    try:
        report = _run_all(model_file, options, out, stage)
    except KeyboardInterrupt:
        raise stage.interrupted() from None
    except Exception:
        if interrupts.received():  # a library gave up on its partial work after Ctrl-C
            raise stage.interrupted() from None
        raise
    console.progress(f"wrote {report} ({time.perf_counter() - started:.1f} s in all)")
    return report


def _run_all(
    model_file: modelfile.ModelFile, options: RunOptions, out: Path, stage: _Stage
) -> Path:
    """Prepare every model, then sample and write them into a staged output; publish it."""
    # every model is prepared first: bad input in any of them fails before sampling
    prepared = [prepare(model_file, entry) for entry in model_file.models]
    total = len(prepared)
    with output_folder.staged_output(out) as staging:
        sections = []
        for number in range(1, total + 1):
            ready = prepared.pop(0)  # this loop holds the model's only reference
            stage.doing = f"during model {ready.entry.name!r} ({number} of {total})"
            console.progress(f"[{number}/{total}] model {ready.entry.name}: {ready.entry.formula}")
            settings = sampler_settings(ready.entry.sampler, options)
            sections.append(run_model(model_file, ready, settings, staging.folder))
            del ready
            _release_memory()
        stage.doing = "while writing the report"
        writing.write_report(model_file, sections, staging.folder, _notes(options))
        staging.publish()
    stage.doing, stage.kept = "after the run was complete", f"{out} holds its output"
    for note in staging.notes:
        console.note(note)
    return out / "report.html"


def _release_memory() -> None:
    """Close every figure and collect what the last model left (its graph, its compiled sampler)."""
    plt.close("all")
    gc.collect()


# ============================================================ settings
def with_likelihood(
    model_file: modelfile.ModelFile, likelihood: Likelihood | None
) -> modelfile.ModelFile:
    """``model_file`` with every model's ``likelihood`` set to ``likelihood`` (if given)."""
    if likelihood is None:
        return model_file
    models = tuple(
        replace(entry, likelihood=likelihood) if entry.family == "gaussian" else entry
        for entry in model_file.models
    )  # a GLMM samples every group effect: the flag is for Gaussian models
    return replace(model_file, models=models)


def with_na_values(
    model_file: modelfile.ModelFile, na_values: tuple[str, ...]
) -> modelfile.ModelFile:
    """``model_file`` with ``na_values`` added to every model's (``--na-values``)."""
    if not na_values:
        return model_file
    models = tuple(
        replace(entry, na_values=tuple(dict.fromkeys((*entry.na_values, *na_values))))
        for entry in model_file.models
    )
    return replace(model_file, models=models)


def sampler_settings(
    settings: modelfile.SamplerSettings, options: RunOptions
) -> modelfile.SamplerSettings:
    """The file's settings, then ``--quick``, then the explicit flags."""
    if options.quick:
        settings = replace(
            settings, draws=QUICK["draws"], tune=QUICK["tune"], chains=QUICK["chains"]
        )
    flags = {
        "draws": options.draws,
        "tune": options.tune,
        "chains": options.chains,
        "seed": options.seed,
    }
    given: dict[str, Any] = {key: value for key, value in flags.items() if value is not None}
    return replace(settings, **given)


def _notes(options: RunOptions) -> list[str]:
    """The notes at the top of the report: that this was a quick run, if it was."""
    if not options.quick:
        return []
    return [
        f"Quick run (--quick): {QUICK['chains']} chains x {QUICK['draws']} draws after "
        f"{QUICK['tune']} tuning steps, unless --draws/--tune/--chains said otherwise. Good for a "
        "fast look; the posterior columns and diagnostics are rough. Run again without "
        "--quick for numbers to report."
    ]
