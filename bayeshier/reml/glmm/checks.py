"""Checks of GLMM responses: every error names the rows at fault and what to do.

The rows are named by their labels in the user's DataFrame (its index),
among the rows the model uses (rows with a missing value are dropped first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeshier.errors import DataError

__all__ = [
    "check_bernoulli",
    "check_counts",
    "check_factor_levels",
    "check_trials",
    "check_weights",
    "rows_text",
]

#: How far a count may be from a whole number (rounding in CSV files).
_WHOLE_TOLERANCE = 1e-8
_SHOWN_ROWS = 5


def rows_text(index: pd.Index, positions: np.ndarray) -> str:
    """The labels of the first offending rows and how many there are.

    ``positions`` are 0-based positions among the rows used, ``index`` the
    labels of those rows in the user's DataFrame.
    """
    shown = ", ".join(str(label) for label in index[positions[:_SHOWN_ROWS]])
    more = f" and {positions.size - _SHOWN_ROWS} more" if positions.size > _SHOWN_ROWS else ""
    return f"{shown}{more} (index labels; {positions.size} of {len(index)} rows used)"


def _not_whole(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    scale = np.maximum(1.0, np.abs(values))
    return finite & (np.abs(values - np.round(values)) > _WHOLE_TOLERANCE * scale)


def check_counts(index: pd.Index, counts: np.ndarray, name: str) -> None:
    """Poisson counts: whole numbers >= 0."""
    bad = np.flatnonzero((counts < 0) | _not_whole(counts))
    if bad.size:
        raise DataError(
            f"The Poisson response {name!r} must hold counts (whole numbers >= 0), but row(s) "
            f"{rows_text(index, bad)} hold {counts[bad[0]]:g}. Fix those rows, or use a "
            "family that fits the response."
        )


def check_weights(index: pd.Index, weights: np.ndarray) -> None:
    """Prior weights (binomial trials): finite and >= 0."""
    bad = np.flatnonzero(~(weights >= 0) | ~np.isfinite(weights))
    if bad.size:
        raise DataError(
            f"weights are negative or infinite at row(s) {rows_text(index, bad)} "
            f"({weights[bad[0]]:g}): prior weights (binomial trials) must be >= 0."
        )


def check_trials(index: pd.Index, successes: np.ndarray, trials: np.ndarray, response: str) -> None:
    """``cbind(successes, failures)``: both whole numbers >= 0 (so successes <= trials)."""
    failures = trials - successes
    for values, what in ((successes, "successes"), (failures, "failures")):
        negative = np.flatnonzero(values < 0)
        if negative.size:
            raise DataError(
                f"{response}: the {what} are negative at row(s) {rows_text(index, negative)} "
                f"({values[negative[0]]:g}). The second column holds failures, not trials: "
                "with successes s and trials n, write cbind(s, n - s); successes may not "
                "exceed trials."
            )
        fractional = np.flatnonzero(_not_whole(values))
        if fractional.size:
            raise DataError(
                f"{response}: the {what} are not whole numbers at row(s) "
                f"{rows_text(index, fractional)} ({values[fractional[0]]:g})."
            )


def check_bernoulli(index: pd.Index, y: np.ndarray, prior: np.ndarray, name: str) -> None:
    """A numeric binomial response: 0/1, or proportions of ``prior`` (weights=) trials."""
    outside = np.flatnonzero((y < 0) | (y > 1))
    if outside.size:
        raise DataError(
            f"The binomial response {name!r} must be 0 or 1 (or a proportion with weights= "
            f"trials), but row(s) {rows_text(index, outside)} hold {y[outside[0]]:g}. For "
            f"counts of successes write cbind({name}, failures), or use family='poisson'."
        )
    fractional = np.flatnonzero(_not_whole(y * prior))
    if fractional.size:
        hint = (
            "pass the number of trials as weights= (the response is then a proportion)"
            if np.all(prior == 1.0)
            else "proportions times weights (trials) must be whole numbers of successes"
        )
        raise DataError(
            f"The binomial response {name!r} holds {y[fractional[0]]:g} at row(s) "
            f"{rows_text(index, fractional)}: a Bernoulli response is 0 or 1; {hint}."
        )


def check_factor_levels(labels: tuple[str, ...], name: str) -> None:
    """A factor response of the binomial needs exactly two levels (the second is the success)."""
    if len(labels) != 2:
        raise DataError(
            f"The binomial response {name!r} is a factor with {len(labels)} level(s) "
            f"({', '.join(map(str, labels[:5]))}): it needs exactly two, the second (in R's "
            "order) being the success. Recode it as 0/1."
        )
