"""Data sets shipped with bayeshier.

Every data set is a CSV file inside the package (nothing is downloaded).
Factor columns are returned as pandas Categoricals whose categories follow
R's level order, so the first category is lme4's reference level.

Examples
--------
>>> from bayeshier import datasets
>>> "sleepstudy" in datasets.names()
True
>>> datasets.load("dyestuff")["Batch"].cat.categories.tolist()
['A', 'B', 'C', 'D', 'E', 'F']

"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import pandas as pd

from bayeshier.errors import DataError, close_matches_hint

__all__ = ["describe", "example_formula", "family", "load", "names"]


@cache
def _catalog() -> dict[str, dict]:
    text = resources.files(__name__).joinpath("catalog.json").read_text()
    return json.loads(text)


def names() -> list[str]:
    """Return the names of the bundled data sets, in catalog order."""
    return list(_catalog())


def describe(name: str) -> str:
    """Return the one-line description of the bundled data set ``name``."""
    return _entry(name)["description"]


def example_formula(name: str) -> str:
    """Return the lme4 formula of the classic analysis of the data set ``name``."""
    return _entry(name)["example_formula"]


def family(name: str) -> str:
    """Return the response family of the example analysis of the data set ``name``.

    ``"gaussian"`` (fitted with :func:`bayeshier.fit_reml`), ``"binomial"`` or
    ``"poisson"`` (fitted with :func:`bayeshier.fit_glmm`).
    """
    return _entry(name).get("family", "gaussian")


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    pandas.DataFrame
        A fresh copy; factor columns are ordered Categoricals in lme4's
        level order.

    Raises
    ------
    DataError
        If ``name`` is not a bundled data set (the message lists close names).

    """
    entry = _entry(name)
    factors: dict[str, list[str]] = entry["factors"]
    path = resources.files(__name__).joinpath("data", f"{name}.csv")
    with resources.as_file(path) as csv_path:
        frame = pd.read_csv(csv_path, dtype={column: str for column in factors})
    for column, levels in factors.items():
        frame[column] = pd.Categorical(frame[column], categories=levels)
    return frame


def _entry(name: str) -> dict:
    catalog = _catalog()
    if name not in catalog:
        raise DataError(
            f"No bundled data set named {name!r}.{close_matches_hint(name, catalog)} "
            f"Available: {', '.join(catalog)}."
        )
    return catalog[name]
