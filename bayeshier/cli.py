"""The ``bayeshier`` command line.

Commands::

    bayeshier examples                      # REML fits of every bundled example, lme4-style
    bayeshier reml FORMULA --data NAME|CSV  # one fit, printed as lme4's summary()
    bayeshier datasets                      # the bundled data sets

Bad input ends with a one-paragraph message and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from bayeshier import datasets
from bayeshier.errors import BayeshierError, DataError
from bayeshier.reml import fit_reml

__all__ = ["main"]

_EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return args.run(args)
    except BayeshierError as error:
        print(f"bayeshier: error: {error}", file=sys.stderr)
        return _EXIT_BAD_INPUT


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
    return parser


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
