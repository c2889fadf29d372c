"""``bayeshier run``: every model of a model file, fitted, sampled, saved and reported.

:func:`run_file` first prepares every model (reads its data, builds it, fits
REML), so that bad input in any model fails before anything is sampled. Then,
model by model, it samples the posterior, prints the side-by-side table,
draws the plots and saves the posterior; last it writes ``comparison.csv``
and ``report.html``. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bayeshier.bayes.diagnostics import diagnose
from bayeshier.bayes.model import Model
from bayeshier.cli import console, figures, html_report, modelfile, section_meta
from bayeshier.cli.model_data import read_data
from bayeshier.errors import (
    BayeshierError,
    ConvergenceWarning,
    RankDeficiencyWarning,
    SamplingWarning,
)
from bayeshier.present.comparison import compare

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier._choices import Likelihood

__all__ = [
    "QUICK",
    "PreparedModel",
    "RunOptions",
    "prepare",
    "run_file",
    "sampler_settings",
    "with_likelihood",
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
    draws, chains, seed : int or None
        Override every model's sampler setting when given.
    likelihood : {"auto", "full", "collapsed"} or None
        Overrides every model's ``likelihood`` when given.
    quick : bool
        Sample with :data:`QUICK` (``draws`` and ``chains`` still win).

    """

    out: str | None = None
    draws: int | None = None
    chains: int | None = None
    seed: int | None = None
    likelihood: Likelihood | None = None
    quick: bool = False


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
        Bad input (the file, its data, a formula); raised before any sampling.

    """
    started = time.perf_counter()
    model_file = with_likelihood(modelfile.load(path), options.likelihood)
    # every model is prepared first: bad input in any of them fails before sampling
    prepared = [prepare(model_file, entry) for entry in model_file.models]
    out_dir = Path(options.out) if options.out else Path("out") / model_file.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for number, ready in enumerate(prepared, start=1):
        entry = ready.entry
        console.progress(f"[{number}/{len(prepared)}] model {entry.name}: {entry.formula}")
        settings = sampler_settings(entry.sampler, options)
        sections.append(_run_model(model_file, ready, settings, out_dir))
    file_images = figures.file_images(model_file.output.plots, out_dir)
    _write_comparison_csv(sections, out_dir / "comparison.csv")
    page = html_report.render_report(
        model_file.title,
        sections,
        description=model_file.description,
        source=str(model_file.path),
        notes=_notes(options),
        images=file_images,
        footer=_footer(),
    )
    report_path = out_dir / "report.html"
    report_path.write_text(page, encoding="utf-8")
    console.progress(f"wrote {report_path} ({time.perf_counter() - started:.1f} s in all)")
    return report_path


# ============================================================ settings
def with_likelihood(
    model_file: modelfile.ModelFile, likelihood: Likelihood | None
) -> modelfile.ModelFile:
    """``model_file`` with every model's ``likelihood`` set to ``likelihood`` (if given)."""
    if likelihood is None:
        return model_file
    models = tuple(replace(entry, likelihood=likelihood) for entry in model_file.models)
    return replace(model_file, models=models)


def sampler_settings(
    settings: modelfile.SamplerSettings, options: RunOptions
) -> modelfile.SamplerSettings:
    """The file's settings, then ``--quick``, then the explicit flags."""
    if options.quick:
        settings = replace(
            settings, draws=QUICK["draws"], tune=QUICK["tune"], chains=QUICK["chains"]
        )
    flags = {"draws": options.draws, "chains": options.chains, "seed": options.seed}
    given: dict[str, Any] = {key: value for key, value in flags.items() if value is not None}
    return replace(settings, **given)


def _notes(options: RunOptions) -> list[str]:
    """The notes at the top of the report: that this was a quick run, if it was."""
    if not options.quick:
        return []
    return [
        f"Quick run (--quick): {QUICK['chains']} chains x {QUICK['draws']} draws after "
        f"{QUICK['tune']} tuning steps, unless --draws/--chains said otherwise. Good for a "
        "fast look; the posterior columns and diagnostics are rough. Run again without "
        "--quick for numbers to report."
    ]


def _footer() -> str:
    from bayeshier import __version__

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"bayeshier {__version__}, {stamp}"


# ======================================================== one model
@dataclass
class PreparedModel:
    """A model of the file, built and fitted by REML, with the time it took and its warnings."""

    entry: modelfile.ModelEntry
    model: Model
    timings: dict[str, float]
    warnings: list[warnings.WarningMessage]


def prepare(model_file: modelfile.ModelFile, entry: modelfile.ModelEntry) -> PreparedModel:
    """Read the data, build the model and fit REML; errors name the file and the model.

    Parameters
    ----------
    model_file : ModelFile
        The file (its folder is where relative data paths start).
    entry : ModelEntry
        One of its models.

    Returns
    -------
    PreparedModel

    Raises
    ------
    BayeshierError
        Of the same class as the error raised, its message prefixed with
        ``<file>: model '<name>':``.

    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = read_data(entry.data, model_file.path.parent)
            model = Model(
                entry.formula,
                data,
                priors=dict(entry.priors) or None,
                parameterization=entry.parameterization,
                likelihood=entry.likelihood,
            )
            _, seconds = _timed(lambda: model.reml)
        except BayeshierError as error:
            raise type(error)(f"{model_file.path}: model {entry.name!r}: {error}") from None
    return PreparedModel(entry, model, {"REML fit": seconds}, list(caught))


def _run_model(
    model_file: modelfile.ModelFile,
    prepared: PreparedModel,
    settings: modelfile.SamplerSettings,
    out_dir: Path,
) -> html_report.ModelSection:
    """Sample, compare, check and plot one model; write its files."""
    entry, model, output = prepared.entry, prepared.model, model_file.output
    timings = dict(prepared.timings)
    console.progress(f"  REML fit: {timings['REML fit']:.2f} s")
    model_dir = out_dir / entry.name
    model_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata, timings["sampling"] = _timed(_sample, model, settings)
        comparison = compare(model.reml, idata, hdi_prob=output.hdi_prob)
        print(comparison.to_text(order=output.order), flush=True)
        diagnostics = diagnose(idata, warn=False)
        results = figures.ModelResults(model, idata, comparison, settings.seed)
        images = figures.model_images(output.plots, results, model_dir)
        if output.posterior:
            _, timings["saving the posterior"] = _timed(_save_posterior, idata, model_dir)
    messages = _report_warnings([*prepared.warnings, *caught])
    messages += list(diagnostics.attrs["warnings"])
    for message in messages:
        console.warning(f"{entry.name}: {message}")
    return html_report.ModelSection(
        name=entry.name,
        description=entry.description,
        meta=section_meta.model_meta(entry, model),
        settings=section_meta.settings_meta(
            settings, model, entry.likelihood, timings, model_dir, output.posterior
        ),
        priors=model.priors,
        comparison=comparison,
        diagnostics=diagnostics,
        images=images,
        warnings=messages,
        order=output.order,
    )


def _sample(model: Model, settings: modelfile.SamplerSettings) -> xr.DataTree:
    first = " (compiling the model first, 10-20 s)" if settings.sampler == "nutpie" else ""
    console.progress(
        f"  sampling {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning) with {settings.sampler}, "
        f"{model.likelihood} likelihood{first} ..."
    )
    return model.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        random_seed=settings.seed,
        sampler=settings.sampler,
        progressbar=False,
        target_accept=settings.target_accept,
    )


def _timed[T](function: Callable[..., T], *args: Any) -> tuple[T, float]:
    """What ``function(*args)`` returns, and the seconds it took."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _report_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Return bayeshier's own warnings (for the report); print other libraries' ones."""
    ours = (ConvergenceWarning, RankDeficiencyWarning, SamplingWarning)
    messages = []
    for record in caught:
        if issubclass(record.category, ours):
            messages.append(str(record.message))
        else:
            console.note(f"{record.category.__name__}: {record.message}")
    return list(dict.fromkeys(messages))


# ============================================================== saving
def _save_posterior(idata: xr.DataTree, model_dir: Path) -> None:
    """The DataTree as zarr: read it back with ``xarray.open_datatree(path, engine="zarr")``.

    The metadata are consolidated (one read opens the whole tree); zarr's note
    that consolidation is not yet part of the Zarr 3 specification is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        idata.to_zarr(model_dir / "posterior.zarr", mode="w")


def _write_comparison_csv(sections: list[html_report.ModelSection], path: Path) -> None:
    """The three comparison tables of every model in one long CSV (columns model, table, ...)."""
    frames = []
    for section in sections:
        comparison = section.comparison
        for table_name, table in (
            ("fixed", comparison.fixed),
            ("groups", comparison.groups),
            ("variances", comparison.variances),
        ):
            frames.append(table.assign(model=section.name, table=table_name))
    combined = pd.concat(frames, ignore_index=True)
    first = ["model", "table", "term", "group", "level", "component"]
    combined = combined[[*first, *(c for c in combined.columns if c not in first)]]
    combined.to_csv(path, index=False)
