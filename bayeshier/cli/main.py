"""The ``bayeshier`` command line.

Commands::

    bayeshier examples                      # REML fits of every bundled example, lme4-style
    bayeshier reml FORMULA --data NAME|CSV  # one fit, printed as lme4's summary()
    bayeshier datasets                      # the bundled data sets
    bayeshier run MODELFILE [--out DIR] [--draws N] [--chains N] [--seed N] [--quick]
                            [--likelihood auto|full|collapsed]

``run`` executes a model file (see :mod:`bayeshier.cli.modelfile`): for each model
it fits REML, samples the posterior, prints the side-by-side table and writes
``report.html``, ``comparison.csv``, the plots (PNG) and the posterior (zarr)
to ``DIR`` (default ``out/<file stem>``). ``--likelihood`` overrides every
model's ``likelihood`` key; the progress lines and the report say which
likelihood each model was sampled with (``Model.likelihood``).

Bad input (a bad file, missing data, a bad flag) ends with a one-paragraph
message and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from bayeshier import datasets
from bayeshier.bayes.diagnostics import diagnose
from bayeshier.bayes.model import Model
from bayeshier.cli import html_report as report
from bayeshier.cli import modelfile
from bayeshier.errors import (
    BayeshierError,
    ConvergenceWarning,
    DataError,
    RankDeficiencyWarning,
    SamplingWarning,
)
from bayeshier.present import shrinkage
from bayeshier.present.comparison import Comparison, compare
from bayeshier.reml import fit_reml
from bayeshier.spec.model_spec import GroupingFactor

__all__ = ["main"]

_EXIT_BAD_INPUT = 2
_EXIT_FAILED = 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed usage and the error (or the help)
        return int(stop.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return args.run(args)
    except BayeshierError as error:
        print(f"bayeshier: error: {error}", file=sys.stderr)
        return _EXIT_BAD_INPUT
    except OSError as error:
        print(f"bayeshier: error: {error}", file=sys.stderr)
        return _EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayeshier",
        description="Bayesian hierarchical regression, side by side with REML/BLUP.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    examples = commands.add_parser("examples", help="REML fits of the bundled examples")
    examples.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    examples.set_defaults(run=_run_examples)

    reml = commands.add_parser("reml", help="fit one model by REML and print its summary")
    reml.add_argument("formula", help="lme4 formula, e.g. 'Reaction ~ Days + (1|Subject)'")
    reml.add_argument("--data", required=True, help="a bundled data set name or a CSV path")
    reml.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    reml.set_defaults(run=_run_reml)

    listing = commands.add_parser("datasets", help="list the bundled data sets")
    listing.set_defaults(run=_run_datasets)

    run = commands.add_parser(
        "run",
        help="run a model file: REML, posterior, side-by-side table and an HTML report",
        description="Fit every model of a TOML model file by REML, sample its posterior, "
        "print the side-by-side table and write report.html, comparison.csv, the plots "
        "and the posterior to --out.",
    )
    run.add_argument("file", help="a TOML model file, e.g. models/mpg_class.toml")
    run.add_argument("--out", help="output folder (default: out/<file stem>)")
    run.add_argument("--draws", type=_at_least(1), help="kept draws per chain (overrides the file)")
    run.add_argument("--chains", type=_at_least(1), help="number of chains (overrides the file)")
    run.add_argument("--seed", type=_at_least(0), help="random seed (overrides the file)")
    run.add_argument(
        "--likelihood",
        choices=modelfile.LIKELIHOODS,
        help="collapsed: integrate the largest factor's effects out of the sampled likelihood; "
        "full: sample every group effect; auto: collapsed when possible "
        "(overrides every model's likelihood in the file)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help=f"a fast look: {QUICK['chains']} chains x {QUICK['draws']} draws "
        f"({QUICK['tune']} tuning); --draws/--chains still win",
    )
    run.set_defaults(run=_run_file)
    return parser


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``least``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return convert


def _run_examples(args: argparse.Namespace) -> int:
    for name in datasets.names():
        formula = datasets.example_formula(name)
        print(f"=== {name}: {datasets.describe(name)}")
        print(fit_reml(formula, datasets.load(name), reml=not args.ml).summary())
    return 0


def _run_reml(args: argparse.Namespace) -> int:
    data = _read_data(args.data)
    print(fit_reml(args.formula, data, reml=not args.ml).summary())
    return 0


def _run_datasets(args: argparse.Namespace) -> int:
    del args
    width = max(len(name) for name in datasets.names())
    for name in datasets.names():
        rows = len(datasets.load(name))
        print(f"{name:<{width}}  {rows:>5} rows  {datasets.example_formula(name)}")
        print(f"{'':<{width}}  {datasets.describe(name)}")
    return 0


# ================================================================ run
#: Sampler settings of ``--quick``.
QUICK = {"draws": 200, "tune": 200, "chains": 2}


def _run_file(args: argparse.Namespace) -> int:
    """``bayeshier run``: every model of the file, then the report."""
    started = time.perf_counter()
    spec = modelfile.load(args.file)
    spec = _with_likelihood(spec, args.likelihood)
    prepared = [_prepare(spec, entry) for entry in spec.models]  # bad input fails before sampling
    out = Path(args.out) if args.out else Path("out") / spec.stem
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for number, (entry, fitted) in enumerate(zip(spec.models, prepared, strict=True), start=1):
        _progress(f"[{number}/{len(spec.models)}] model {entry.name}: {entry.formula}")
        settings = _sampler_settings(entry.sampler, args)
        sections.append(_run_model(spec, entry, fitted, settings, out))
    file_images = _file_images(spec, out)
    _write_comparison_csv(sections, out / "comparison.csv")
    page = report.render_report(
        spec.title,
        sections,
        description=spec.description,
        source=str(spec.path),
        notes=_notes(args),
        images=file_images,
        footer=_footer(),
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    _progress(f"wrote {out / 'report.html'} ({time.perf_counter() - started:.1f} s in all)")
    return 0


def _sampler_settings(
    settings: modelfile.SamplerSettings, args: argparse.Namespace
) -> modelfile.SamplerSettings:
    """The file's settings, then ``--quick``, then the explicit flags."""
    if args.quick:
        settings = replace(settings, **QUICK)
    flags = {"draws": args.draws, "chains": args.chains, "seed": args.seed}
    return replace(settings, **{k: v for k, v in flags.items() if v is not None})


def _with_likelihood(spec: modelfile.ModelFile, likelihood: str | None) -> modelfile.ModelFile:
    """``spec`` with every model's ``likelihood`` set to ``--likelihood`` (if given)."""
    if likelihood is None:
        return spec
    return replace(spec, models=tuple(replace(m, likelihood=likelihood) for m in spec.models))


def _notes(args: argparse.Namespace) -> list[str]:
    if not args.quick:
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


def _progress(message: str) -> None:
    print(f"bayeshier: {message}", file=sys.stderr, flush=True)


@dataclass
class _Prepared:
    """A model built and fitted by REML, with the time it took and the warnings it raised."""

    model: Model
    timings: dict[str, float]
    warnings: list[warnings.WarningMessage]


def _prepare(spec: modelfile.ModelFile, entry: modelfile.ModelEntry) -> _Prepared:
    """Read the data, build the model and fit REML; errors name the file and the model."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = modelfile.read_data(entry.data, spec.path.parent)
            model = Model(
                entry.formula,
                data,
                priors=dict(entry.priors) or None,
                parameterization=entry.parameterization,
                likelihood=entry.likelihood,  # type: ignore[arg-type]
            )
            _, seconds = _timed(lambda: model.reml)
        except BayeshierError as error:
            raise type(error)(f"{spec.path}: model {entry.name!r}: {error}") from None
    return _Prepared(model, {"REML fit": seconds}, list(caught))


def _run_model(
    spec: modelfile.ModelFile,
    entry: modelfile.ModelEntry,
    fitted: _Prepared,
    settings: modelfile.SamplerSettings,
    out: Path,
) -> report.ModelSection:
    """Sample, compare, check and plot one model; write its files."""
    model, timings = fitted.model, dict(fitted.timings)
    _progress(f"  REML fit: {timings['REML fit']:.2f} s")
    folder = out / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata, timings["sampling"] = _timed(_sample, model, settings)
        comparison = compare(model.reml, idata, hdi_prob=spec.output.hdi_prob)
        print(comparison.to_text(order=spec.output.order), flush=True)
        diagnostics = diagnose(idata, warn=False)
        images = _model_images(spec.output.plots, model, idata, comparison, settings, folder)
        if spec.output.posterior:
            _, timings["saving the posterior"] = _timed(_save_posterior, idata, folder)
    messages = _report_warnings([*fitted.warnings, *caught])
    messages += list(diagnostics.attrs["warnings"])
    for message in messages:
        print(f"bayeshier: warning: {entry.name}: {message}", file=sys.stderr)
    return report.ModelSection(
        name=entry.name,
        description=entry.description,
        meta=_model_meta(entry, model),
        settings=_settings_meta(
            settings, model, entry.likelihood, timings, folder, spec.output.posterior
        ),
        priors=model.priors,
        comparison=comparison,
        diagnostics=diagnostics,
        images=images,
        warnings=messages,
        order=spec.output.order,
    )


def _sample(model: Model, settings: modelfile.SamplerSettings) -> xr.DataTree:
    first = " (compiling the model first, 10-20 s)" if settings.sampler == "nutpie" else ""
    _progress(
        f"  sampling {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning) with {settings.sampler}, "
        f"{model.likelihood} likelihood{first} ..."
    )
    return model.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        random_seed=settings.seed,
        sampler=settings.sampler,  # type: ignore[arg-type]
        progressbar=False,
        target_accept=settings.target_accept,
    )


def _timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _save_posterior(idata: xr.DataTree, folder: Path) -> None:
    """The DataTree as zarr: read it back with ``xarray.open_datatree(path, engine="zarr")``.

    The metadata are consolidated (one read opens the whole tree); zarr's note
    that consolidation is not yet part of the Zarr 3 specification is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        idata.to_zarr(folder / "posterior.zarr", mode="w")


def _report_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Return bayeshier's own warnings (for the report); print other libraries' ones."""
    ours = (ConvergenceWarning, RankDeficiencyWarning, SamplingWarning)
    messages = []
    for record in caught:
        if issubclass(record.category, ours):
            messages.append(str(record.message))
        else:
            print(f"bayeshier: note: {record.category.__name__}: {record.message}", file=sys.stderr)
    return list(dict.fromkeys(messages))


def _model_meta(entry: modelfile.ModelEntry, model: Model) -> dict[str, str]:
    factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in model.spec.factors)
    rows = f"{model.spec.nobs}"
    if model.reml.n_dropped:
        rows += f" ({model.reml.n_dropped} rows with missing values dropped)"
    return {
        "formula": entry.formula,
        "data": entry.data,
        "rows": rows,
        "grouping factors": factors,
        "REML fit": _reml_line(model.reml),
    }


def _reml_line(fit: Any) -> str:
    singular = "; singular fit (a group sd at 0)" if fit.is_singular else ""
    return f"REML criterion {fit.criterion:.4f}, sigma {fit.sigma:.4g}{singular}"


def _settings_meta(
    settings: modelfile.SamplerSettings,
    model: Model,
    requested: str,
    timings: Mapping[str, float],
    folder: Path,
    posterior: bool,
) -> dict[str, str]:
    accept = settings.target_accept or model.default_target_accept()
    sampling = (
        f"{settings.sampler}, {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning), target_accept {accept:g}, seed {settings.seed}"
    )
    meta = {
        "sampler": sampling,
        "parameterization": ", ".join(f"{k}: {v}" for k, v in model.parameterization.items()),
        "likelihood": _likelihood_line(model, requested),
        "time": ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()),
    }
    if posterior:
        path = f"{folder.name}/posterior.zarr"
        meta["posterior"] = (
            f"{path} next to this report: xarray.open_datatree({path!r}, engine='zarr')"
        )
    return meta


def _likelihood_line(model: Model, requested: str) -> str:
    """Which likelihood was sampled (``Model.likelihood``), what was asked for, and what it means.

    E.g. ``collapsed (asked: auto): effects of g integrated out of the sampled
    likelihood, drawn from their exact conditional posterior after sampling``.
    """
    asked = f" (asked: {requested})" if requested != model.likelihood else ""
    if model.likelihood == "full":
        return f"full{asked}: every group effect sampled by NUTS"
    integrated = [k for k, v in model.parameterization.items() if v == "marginalized"]
    return (
        f"collapsed{asked}: effects of {', '.join(integrated)} integrated out of the sampled "
        "likelihood, drawn from their exact conditional posterior after sampling"
    )


# ---------------------------------------------------------------- plots
def _model_images(
    names: tuple[str, ...],
    model: Model,
    idata: xr.DataTree,
    comparison: Comparison,
    settings: modelfile.SamplerSettings,
    folder: Path,
) -> list[report.Image]:
    """Draw the requested per-model plots, save each as PNG in ``folder``."""
    images = []
    for name in names:
        if name not in modelfile.MODEL_PLOTS:
            continue
        _progress(f"  plot {name}")
        for suffix, caption, figure in _draw(name, model, idata, comparison, settings):
            images.append(_save_image(f"{name}{suffix}", caption, figure, folder))
    return images


def _draw(
    name: str,
    model: Model,
    idata: xr.DataTree,
    comparison: Comparison,
    settings: modelfile.SamplerSettings,
) -> list[tuple[str, str, Any]]:
    """(file-name suffix, caption, figure) of plot ``name``; per-factor plots once per factor."""
    from bayeshier.present import plots

    per_factor = {
        "shrinkage_arrows": lambda f: plots.shrinkage_arrows(comparison, factor=f),
        "shrinkage_2d": lambda f: plots.shrinkage_2d(comparison, factor=f),
        "forest": lambda f: plots.forest(comparison, factor=f),
        "prior_likelihood_posterior": lambda f: plots.prior_likelihood_posterior(
            shrinkage.normal_prior_posterior(model.reml, factor=f)
        ),
    }
    if name in per_factor:
        several = len(model.spec.factors) > 1
        return [
            (
                f"_{_file_safe(f)}" if several else "",
                f"{CAPTIONS[name]} ({f})",
                per_factor[name](f),
            )
            for f in _factors_for(name, model)
        ]
    whole = {
        "trace": lambda: plots.trace(idata),
        "rank": lambda: plots.rank(idata),
        "energy": lambda: plots.energy(idata),
        "pair_variances": lambda: plots.pair_variances(
            idata, figure_kwargs={"figsize": _pair_size(model)}
        ),
        "ppc": lambda: plots.ppc(idata, model, seed=settings.seed),
    }
    return [("", CAPTIONS[name], whole[name]())]


#: Per-factor plots that apply to some factors only: which ones, and why the others not.
_PLOT_SCOPE: dict[str, tuple[Callable[[GroupingFactor], bool], str]] = {
    "shrinkage_2d": (
        lambda f: len(f.terms) >= 2,
        "it has a single random term (shrinkage_arrows shows it)",
    ),
    "prior_likelihood_posterior": (
        lambda f: f.intercept_only,
        "it has random slopes (shrinkage_2d shows them)",
    ),
}


def _factors_for(name: str, model: Model) -> list[str]:
    """The factors per-factor plot ``name`` applies to; each one left out is named on stderr.

    ``shrinkage_2d`` needs two or more random terms (a random slope);
    ``prior_likelihood_posterior`` a random intercept alone (with slopes the
    weight is a matrix, which ``shrinkage_2d`` shows). The other per-factor
    plots apply to every factor (with slopes they show the intercept rows).
    """
    applies, reason = _PLOT_SCOPE.get(name, (lambda f: True, ""))
    factors = []
    for factor in model.spec.factors:
        if applies(factor):
            factors.append(factor.name)
        else:
            _progress(f"  plot {name} not drawn for {factor.name!r}: {reason}")
    return factors


def _pair_size(model: Model) -> tuple[float, float]:
    """A square pair plot, 2.3 inches per variable (ArviZ's default is a wide strip).

    The variables are sigma and every factor's covariance parameters: an sd
    per term and a correlation per correlated pair of terms (``n_theta``).
    """
    count = 1 + sum(f.n_theta for f in model.spec.factors)
    side = 2.3 * count + 0.4
    return side, side - 0.3


CAPTIONS = {
    "shrinkage_arrows": "Shrinkage: each level's own estimate (lm), its BLUP and posterior mean",
    "shrinkage_2d": "Shrinkage in two dimensions: own lm (intercept, slope), BLUP, posterior mean",
    "forest": "Level intercepts: posterior HDI, BLUP +- 2 conditional sd, no pooling",
    "prior_likelihood_posterior": "The BLUP as a posterior: normal prior x normal likelihood",
    "trace": "Posterior densities and traces per chain",
    "rank": "Rank plots per chain",
    "energy": "Energy plot (E-BFMI)",
    "pair_variances": "Pair plot of the standard deviations",
    "ppc": "Posterior predictive check",
    "seed_scenarios": "The four seed scenarios on the shrinkage curves of their true ratios",
}


def _file_images(spec: modelfile.ModelFile, out: Path) -> list[report.Image]:
    """Plots about the whole file (the seed scenarios)."""
    if "seed_scenarios" not in spec.output.plots:
        return []
    from bayeshier.present import plots

    _progress("plot seed_scenarios")
    figure = plots.seed_scenarios()
    return [_save_image("seed_scenarios", CAPTIONS["seed_scenarios"], figure, out)]


def _save_image(name: str, caption: str, figure: Any, folder: Path) -> report.Image:
    """Render ``figure`` to PNG, write it to ``folder/<name>.png``, close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI)
    plt.close(figure)
    png = buffer.getvalue()
    (folder / f"{name}.png").write_bytes(png)
    return report.Image(name=name, caption=caption, png=png)


#: Resolution of the saved plots.
PNG_DPI = 100


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)


def _write_comparison_csv(sections: list[report.ModelSection], path: Path) -> None:
    """The three comparison tables of every model in one long CSV (columns model, table, ...)."""
    frames = []
    for section in sections:
        cmp = section.comparison
        for table_name, table in (
            ("fixed", cmp.fixed),
            ("groups", cmp.groups),
            ("variances", cmp.variances),
        ):
            frames.append(table.assign(model=section.name, table=table_name))
    combined = pd.concat(frames, ignore_index=True)
    first = ["model", "table", "term", "group", "level", "component"]
    combined = combined[[*first, *(c for c in combined.columns if c not in first)]]
    combined.to_csv(path, index=False)


def _read_data(source: str) -> pd.DataFrame:
    """A bundled data set by name, or a CSV file by path."""
    if source in datasets.names():
        return datasets.load(source)
    path = Path(source)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise DataError(f"No CSV file at {source!r}: check the path.")
        return pd.read_csv(path)
    raise DataError(
        f"--data {source!r} is neither a bundled data set nor a .csv file. "
        f"Bundled: {', '.join(datasets.names())}."
    )


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"bayeshier: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
