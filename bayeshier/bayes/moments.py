"""Means and standard deviations of the model's columns, summed chunk by chunk.

The default priors are scaled by ``sd(y)`` (``y`` less any offset) and the predictors' sds, and the
sampler centers the predictors at their means. These moments come from sums
over rows that add up over chunks (:class:`Moments`), so a Dask DataFrame's
partitions give the same numbers as a pandas DataFrame's rows. The sums are
taken about fixed shifts close to the means (the means themselves for rows
in memory, the fixed-effects sums' means for a Dask DataFrame), which keeps
the sums of squares free of cancellation when a column's mean is large
compared with its sd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.spec.model_spec import ModelSpec

__all__ = ["DataMoments", "Moments", "data_moments", "response_less_offset", "row_weights"]


def row_weights(spec: ModelSpec) -> np.ndarray | None:
    """The prior weights of the rows ``spec`` holds (residual variance ``sigma^2 / w``), or None."""
    return spec.weights


def response_less_offset(spec: ModelSpec) -> np.ndarray:
    """``y - offset`` of the rows ``spec`` holds (``y`` without an offset)."""
    return spec.y if spec.offset is None else spec.y - spec.offset


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, sums and sums of squares of columns about fixed shifts; chunks add with ``+``.

    Attributes
    ----------
    n : int
        Rows summed.
    shift : numpy.ndarray
        The value subtracted from each column before summing.
    total : numpy.ndarray
        Per column, the sum of ``v - shift``.
    squares : numpy.ndarray
        Per column, the sum of ``(v - shift)^2``.

    """

    n: int
    shift: np.ndarray
    total: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, shift: np.ndarray) -> Moments:
        """The moments of the columns of ``values`` (rows x columns) about ``shift``."""
        deviations = values - shift
        return cls(len(values), shift, deviations.sum(axis=0), (deviations**2).sum(axis=0))

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.n + other.n,
            self.shift,
            self.total + other.total,
            self.squares + other.squares,
        )

    @property
    def mean(self) -> np.ndarray:
        """Column means."""
        return self.shift + self.total / max(self.n, 1)

    @property
    def sd(self) -> np.ndarray:
        """Column standard deviations (denominator ``n - 1``; 0 for a single row)."""
        if self.n < 2:
            return np.zeros_like(self.total)
        centered = np.clip(self.squares - self.total**2 / self.n, 0.0, None)
        return np.sqrt(centered / (self.n - 1))

    @property
    def root_mean_square(self) -> np.ndarray:
        """Column root mean squares ``sqrt(mean(v^2))``."""
        raw = self.squares + 2.0 * self.shift * self.total + self.n * self.shift**2
        return np.sqrt(np.clip(raw, 0.0, None) / max(self.n, 1))

    def scales(self, centered: bool) -> np.ndarray:
        """Per column, the sd (if ``centered``) or else, or when it is 0, the root mean square.

        A column that is zero throughout gets 1, so that a scale can divide.
        """
        scale = self.sd if centered else np.zeros_like(self.total)
        scale = np.where(scale > 0, scale, self.root_mean_square)
        return np.where(scale > 0, scale, 1.0)


@dataclass(frozen=True, eq=False)
class DataMoments:
    """Moments of the response, the fixed-effects columns and the random-slope columns.

    Attributes
    ----------
    y : Moments
        The response less any offset (one column).
    X : Moments
        The fixed-effects design's columns.
    random : tuple of Moments or None
        Per grouping factor (spec order), its random-effect columns; None for
        a factor with a random intercept only (a column of ones).

    """

    y: Moments
    X: Moments
    random: tuple[Moments | None, ...]

    def __add__(self, other: DataMoments) -> DataMoments:
        random = tuple(
            None if mine is None else mine + theirs
            for mine, theirs in zip(self.random, other.random, strict=True)
        )
        return DataMoments(self.y + other.y, self.X + other.X, random)


def data_moments(spec: ModelSpec) -> DataMoments:
    """The :class:`DataMoments` of the rows of ``spec``, wherever they are.

    Rows in memory are summed about their means; a spec without rows has
    its row source sum its chunks (one pass) about the means that the
    fixed-effects sums give (see :func:`moment_shifts`).
    """
    shifts = moment_shifts(spec)
    if spec.holds_rows:
        return row_moments(spec, shifts)
    return spec.source.reduce_rows(spec, row_moments, shifts)


def moment_shifts(spec: ModelSpec) -> tuple[np.ndarray, ...]:
    """Shifts close to the column means: ``y``, ``X``, then each factor's random columns.

    With rows, their means. Without, from the fixed-effects sums: ``X'X =
    R'R`` and ``X'y`` hold every column's sum against the intercept column
    (``y`` gets 0 without an intercept); random-effect columns get 0.
    """
    if spec.holds_rows:
        random = [f.columns().mean(axis=0) for f in spec.factors if not f.intercept_only]
        return (response_less_offset(spec).mean(keepdims=True), spec.X.mean(axis=0), *random)
    p, n = spec.n_fixed, spec.nobs
    x_shift, y_shift = np.zeros(p), np.zeros(1)
    if "Intercept" in spec.fixed_names:
        i = spec.fixed_names.index("Intercept")
        x_shift = (spec.fixed_r.T @ spec.fixed_r[:, i]) / n
        y_shift = np.array([spec.fixed_xty[i] / n])
    random = [np.zeros(f.n_columns) for f in spec.factors if not f.intercept_only]
    return (y_shift, x_shift, *random)


def row_moments(spec: ModelSpec, shifts: tuple[np.ndarray, ...]) -> DataMoments:
    """The :class:`DataMoments` of the rows ``spec`` holds, about ``shifts``."""
    y_shift, x_shift, *random_shifts = shifts
    remaining = iter(random_shifts)
    random = tuple(
        None if f.intercept_only else Moments.of(f.columns(), next(remaining)) for f in spec.factors
    )
    y = Moments.of(response_less_offset(spec)[:, None], y_shift)
    return DataMoments(y, Moments.of(spec.X, x_shift), random)
