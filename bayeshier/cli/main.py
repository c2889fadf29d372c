"""The ``bayeshier`` command line.

Commands::

    bayeshier examples                      # REML fits of every bundled example, lme4-style
    bayeshier reml FORMULA --data NAME|CSV [--na-values V,...]  # one fit, as lme4's summary()
                   [--family binomial|poisson [--link L] [--nagq N]]  # glmer's summary()
    bayeshier datasets                      # the bundled data sets
    bayeshier run MODELFILE [--out DIR] [--draws N] [--tune N] [--chains N] [--seed N]
                            [--quick] [--likelihood auto|full|collapsed] [--na-values V,...]

``run`` executes a model file (see :mod:`bayeshier.cli.modelfile` for the
file and :mod:`bayeshier.cli.run` for the run): for each model
it fits REML, samples the posterior, prints the side-by-side table and writes
``report.html``, ``comparison.csv``, the plots (PNG) and the posterior (zarr)
to ``DIR`` (default ``out/<file stem>``). ``--likelihood`` overrides every
model's ``likelihood`` key; the progress lines and the report say which
likelihood each model was sampled with (``Model.likelihood``).

The output appears in ``DIR`` only when the run is complete; until then it is
written to a temporary folder next to it (:mod:`bayeshier.cli.output_folder`).

Exit statuses: 0 done; 2 bad input (a bad file, missing data, a bad flag, an
``--out`` that cannot take the output), with a one-paragraph message and no
traceback; 1 when writing failed; 130 on Ctrl-C, after a line saying what was
kept (an earlier output in ``DIR`` stays as it was).

This module holds the argument parser, the dispatch to the commands and the
small commands themselves; ``run`` lives in :mod:`bayeshier.cli.run`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bayeshier import datasets
from bayeshier._choices import LIKELIHOODS
from bayeshier.cli import console, interrupts
from bayeshier.cli.model_data import check_numeric_columns, flag_hint, formula_columns
from bayeshier.cli.run import QUICK, RunOptions, run_file
from bayeshier.cli.schema_checks import FAMILY_CHOICES, SAMPLER_RANGES, span
from bayeshier.errors import BayeshierError, DataError, ModelError
from bayeshier.reml import RemlFit, fit_reml
from bayeshier.reml.glmm import GlmmFit, fit_glmm

__all__ = ["main"]

_EXIT_BAD_INPUT = 2
_EXIT_FAILED = 1
_EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``bayeshier`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad input (file, data, flags), 1 when writing
        failed, 130 when interrupted (Ctrl-C).

    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed usage and the error (or the help)
        return int(stop.code or 0)
    try:
        # SIGINT raises even when the process was started with it ignored (``&`` in a script)
        with interrupts.sigint_raises(), warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return args.command(args)
    except KeyboardInterrupt as stop:
        console.progress(str(stop) or "interrupted")
        return _EXIT_INTERRUPTED
    except BayeshierError as error:
        console.error(str(error))
        return _EXIT_BAD_INPUT
    except OSError as error:
        console.error(str(error))
        return _EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayeshier",
        description="Bayesian hierarchical regression, side by side with REML/BLUP.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    examples = commands.add_parser("examples", help="REML fits of the bundled examples")
    examples.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    examples.set_defaults(command=_examples)

    reml = commands.add_parser("reml", help="fit one model by REML and print its summary")
    reml.add_argument("formula", help="lme4 formula, e.g. 'Reaction ~ Days + (1|Subject)'")
    reml.add_argument("--data", required=True, help="a bundled data set name or a CSV path")
    reml.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    _add_family(reml)
    reml.add_argument(
        "--weights",
        metavar="EXPR",
        help="prior weights: a column or an expression of columns (lme4's meaning: residual "
        "variance sigma^2/w; binomial: trials)",
    )
    reml.add_argument(
        "--offset", metavar="EXPR", help="an offset: a column or an expression, e.g. 'log(n)'"
    )
    _add_na_values(reml)
    reml.set_defaults(command=_reml)

    listing = commands.add_parser("datasets", help="list the bundled data sets")
    listing.set_defaults(command=_datasets)

    _add_run_command(commands)
    return parser


def _add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run a model file: REML, posterior, side-by-side table and an HTML report",
        description="Fit every model of a TOML model file by REML, sample its posterior, "
        "print the side-by-side table and write report.html, comparison.csv, the plots "
        "and the posterior to --out.",
    )
    run.add_argument("file", help="a TOML model file, e.g. models/mpg_class.toml")
    run.add_argument("--out", help="output folder (default: out/<file stem>)")
    for flag, what in (
        ("draws", "kept draws per chain"),
        ("tune", "tuning steps per chain"),
        ("chains", "number of chains"),
        ("seed", "random seed"),
    ):
        bounds = SAMPLER_RANGES[flag]
        run.add_argument(
            f"--{flag}", type=_within(bounds), help=f"{what}, {span(bounds)} (overrides the file)"
        )
    run.add_argument(
        "--likelihood",
        choices=LIKELIHOODS,
        help="collapsed: integrate the largest factor's effects out of the sampled likelihood; "
        "full: sample every group effect; auto: collapsed when possible "
        "(overrides every model's likelihood in the file)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help=f"a fast look: {QUICK['chains']} chains x {QUICK['draws']} draws "
        f"({QUICK['tune']} tuning); --draws/--tune/--chains still win",
    )
    _add_na_values(run)
    run.set_defaults(command=_run)


def _add_family(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--family",
        choices=FAMILY_CHOICES,
        default="gaussian",
        help="gaussian (default): lmer by REML; binomial or poisson: glmer by maximum "
        "likelihood (Laplace), printed in glmer's summary layout",
    )
    command.add_argument(
        "--link",
        help="the link of --family: binomial logit (default), probit or cloglog; poisson log",
    )
    command.add_argument(
        "--nagq",
        type=_within((1, 100)),
        default=1,
        help="glmer's nAGQ: 1 (Laplace, default) or more adaptive Gauss-Hermite points "
        "(one scalar random-effect factor only)",
    )


def _add_na_values(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--na-values",
        action="append",
        type=lambda text: [value for value in text.split(",") if value],
        default=[],
        metavar="V,...",
        help="values of a CSV file that mean 'missing' (e.g. --na-values .,n/a; repeatable), "
        "besides pandas' own (empty, NA, NaN, ...) and the model file's na_values",
    )


def _within(bounds: tuple[int, int]) -> Callable[[str], int]:
    """An argparse type: an integer within ``bounds`` (both ends included)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not bounds[0] <= value <= bounds[1]:
            raise argparse.ArgumentTypeError(f"must be an integer from {span(bounds)}, got {value}")
        return value

    return convert


def _na_values(args: argparse.Namespace) -> tuple[str, ...]:
    """The values of every ``--na-values``, each once, in order."""
    return tuple(dict.fromkeys(value for group in args.na_values for value in group))


def _examples(args: argparse.Namespace) -> int:
    for name in datasets.names():
        formula = datasets.example_formula(name)
        print(f"=== {name}: {datasets.describe(name)}")
        print(_fit_example(name, formula, reml=not args.ml).summary())
    return 0


def _fit_example(name: str, formula: str, reml: bool) -> RemlFit | GlmmFit:
    """The example analysis of a bundled data set: lmer's, or glmer's for a binomial/Poisson one."""
    family = datasets.family(name)
    if family == "gaussian":
        return fit_reml(formula, datasets.load(name), reml=reml)
    return fit_glmm(formula, datasets.load(name), family)  # glmer fits by ML: --ml changes nothing


def _reml(args: argparse.Namespace) -> int:
    if args.family == "gaussian" and (args.link is not None or args.nagq != 1):
        raise ModelError(
            "--link and --nagq are for a generalized model: add --family binomial or "
            "--family poisson."
        )
    data = _read_data(args.data, _na_values(args), args.formula)
    extras = {"weights": args.weights, "offset": args.offset}
    if args.family == "gaussian":
        print(fit_reml(args.formula, data, reml=not args.ml, **extras).summary())
    else:  # glmer fits by maximum likelihood: --ml changes nothing
        fit = fit_glmm(args.formula, data, args.family, link=args.link, nagq=args.nagq, **extras)
        print(fit.summary())
    return 0


def _datasets(args: argparse.Namespace) -> int:
    del args
    width = max(len(name) for name in datasets.names())
    for name in datasets.names():
        rows = len(datasets.load(name))
        family = datasets.family(name)
        fitted_by = "" if family == "gaussian" else f"  (family = {family})"
        print(f"{name:<{width}}  {rows:>5} rows  {datasets.example_formula(name)}{fitted_by}")
        print(f"{'':<{width}}  {datasets.describe(name)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    options = RunOptions(
        out=args.out,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        likelihood=args.likelihood,
        quick=args.quick,
        na_values=_na_values(args),
    )
    run_file(args.file, options)
    return 0


def _read_data(source: str, na_values: tuple[str, ...], formula: str) -> pd.DataFrame:
    """A bundled data set by name, or a CSV file by path (its columns of numbers checked)."""
    if source in datasets.names():
        return datasets.load(source)
    path = Path(source)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise DataError(f"No CSV file at {source!r}: check the path.")
        try:
            data = pd.read_csv(path, na_values=list(na_values) or None)
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(f"Cannot read {source!r} as CSV: {error}") from None
        used = formula_columns(formula, data.columns)
        check_numeric_columns(data, f"--data {source!r}", used, flag_hint)
        return data
    raise DataError(
        f"--data {source!r} is neither a bundled data set nor a .csv file. "
        f"Bundled: {', '.join(datasets.names())}."
    )


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Show a warning as one ``bayeshier: warning:`` line (no file, no source line)."""
    console.warning(str(message))


if __name__ == "__main__":
    sys.exit(main())
