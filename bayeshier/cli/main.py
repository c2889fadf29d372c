"""The ``bayeshier`` command line.

Commands::

    bayeshier examples                      # REML fits of every bundled example, lme4-style
    bayeshier reml FORMULA --data NAME|CSV  # one fit, printed as lme4's summary()
    bayeshier datasets                      # the bundled data sets
    bayeshier run MODELFILE [--out DIR] [--draws N] [--chains N] [--seed N] [--quick]
                            [--likelihood auto|full|collapsed]

``run`` executes a model file (see :mod:`bayeshier.cli.modelfile` for the
file and :mod:`bayeshier.cli.run` for the run): for each model
it fits REML, samples the posterior, prints the side-by-side table and writes
``report.html``, ``comparison.csv``, the plots (PNG) and the posterior (zarr)
to ``DIR`` (default ``out/<file stem>``). ``--likelihood`` overrides every
model's ``likelihood`` key; the progress lines and the report say which
likelihood each model was sampled with (``Model.likelihood``).

Bad input (a bad file, missing data, a bad flag) ends with a one-paragraph
message and exit status 2, no traceback.

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
from bayeshier.cli import console
from bayeshier.cli.run import QUICK, RunOptions, run_file
from bayeshier.errors import BayeshierError, DataError
from bayeshier.reml import fit_reml

__all__ = ["main"]

_EXIT_BAD_INPUT = 2
_EXIT_FAILED = 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``bayeshier`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad input (file, data, flags), 1 when writing failed.

    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed usage and the error (or the help)
        return int(stop.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return args.command(args)
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
    run.add_argument("--draws", type=_at_least(1), help="kept draws per chain (overrides the file)")
    run.add_argument("--chains", type=_at_least(1), help="number of chains (overrides the file)")
    run.add_argument("--seed", type=_at_least(0), help="random seed (overrides the file)")
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
        f"({QUICK['tune']} tuning); --draws/--chains still win",
    )
    run.set_defaults(command=_run)


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


def _examples(args: argparse.Namespace) -> int:
    for name in datasets.names():
        formula = datasets.example_formula(name)
        print(f"=== {name}: {datasets.describe(name)}")
        print(fit_reml(formula, datasets.load(name), reml=not args.ml).summary())
    return 0


def _reml(args: argparse.Namespace) -> int:
    data = _read_data(args.data)
    print(fit_reml(args.formula, data, reml=not args.ml).summary())
    return 0


def _datasets(args: argparse.Namespace) -> int:
    del args
    width = max(len(name) for name in datasets.names())
    for name in datasets.names():
        rows = len(datasets.load(name))
        print(f"{name:<{width}}  {rows:>5} rows  {datasets.example_formula(name)}")
        print(f"{'':<{width}}  {datasets.describe(name)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    options = RunOptions(
        out=args.out,
        draws=args.draws,
        chains=args.chains,
        seed=args.seed,
        likelihood=args.likelihood,
        quick=args.quick,
    )
    run_file(args.file, options)
    return 0


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
    """Show a warning as one ``bayeshier: warning:`` line (no file, no source line)."""
    console.warning(str(message))


if __name__ == "__main__":
    sys.exit(main())
