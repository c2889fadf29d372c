"""The interpolation splines behind profile confidence intervals (R's ``splines`` package).

lme4's ``profile()`` interpolates each parameter's signed square-root
deviance ``zeta`` by a natural cubic spline through the profiled points
(``interpSpline``) and inverts it with ``backSpline``: a piecewise cubic in
zeta through the same points with slopes ``1 / zeta'(x)``, quadratic on the
two end pieces. ``confint`` evaluates the inverse at the normal quantiles;
outside the profiled range the inverse is undefined (NaN). This module
reproduces those two functions so that the intervals agree with lme4's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

__all__ = ["BackSpline", "back_spline"]


@dataclass(frozen=True)
class BackSpline:
    """A piecewise cubic ``x(zeta)``, the inverse of a profile.

    On ``[knots[i], knots[i+1]]`` it is the polynomial
    ``sum_m coefficients[i, m] (zeta - knots[i])^m``.

    Attributes
    ----------
    knots : numpy.ndarray
        Increasing zeta values.
    coefficients : numpy.ndarray
        One row of four polynomial coefficients per piece (``len(knots) - 1`` rows).

    """

    knots: np.ndarray
    coefficients: np.ndarray

    def __call__(self, zeta: np.ndarray | float) -> np.ndarray:
        """The parameter at ``zeta``; NaN outside ``[knots[0], knots[-1]]`` (as R's ``predict``)."""
        zeta = np.atleast_1d(np.asarray(zeta, dtype=float))
        piece = np.searchsorted(self.knots, zeta, side="left") - 1
        piece = np.where(zeta == self.knots[0], 0, piece)
        inside = (piece >= 0) & (piece < len(self.knots) - 1)
        piece = np.clip(piece, 0, len(self.knots) - 2)
        delta = zeta - self.knots[piece]
        coefficients = self.coefficients[piece]
        value = coefficients[:, 3]
        for m in (2, 1, 0):
            value = value * delta + coefficients[:, m]
        return np.where(inside, value, np.nan)


def back_spline(x: np.ndarray, zeta: np.ndarray) -> BackSpline:
    """The inverse of the natural interpolating spline of ``zeta`` on ``x`` (R's ``backSpline``).

    Parameters
    ----------
    x, zeta : numpy.ndarray
        The profiled points, ``x`` strictly increasing and ``zeta`` strictly
        increasing with it (at least four points, as ``interpSpline`` needs).

    Raises
    ------
    ValueError
        If ``zeta`` is not strictly increasing (a non-monotone profile) or
        there are fewer than four points.

    """
    x = np.asarray(x, dtype=float)
    zeta = np.asarray(zeta, dtype=float)
    if x.size < 4 or np.any(np.diff(zeta) <= 0) or np.any(np.diff(x) <= 0):
        raise ValueError("the profile is not strictly monotone or has fewer than 4 points")
    slopes = _natural_slopes(x, zeta)
    x_step, zeta_step = np.diff(x), np.diff(zeta)
    inverse = 1.0 / slopes
    coefficients = np.zeros((x.size - 1, 4))
    coefficients[:, 0] = x[:-1]
    coefficients[:, 1] = inverse[:-1]
    for i in range(x.size - 1):
        a = np.array(
            [[zeta_step[i] ** 2, zeta_step[i] ** 3], [2 * zeta_step[i], 3 * zeta_step[i] ** 2]]
        )
        b = np.array([x_step[i] - zeta_step[i] * inverse[i], inverse[i + 1] - inverse[i]])
        coefficients[i, 2:] = np.linalg.solve(a, b)
    _quadratic_ends(coefficients, x_step, zeta_step, inverse)
    return BackSpline(zeta, coefficients)


def _natural_slopes(x: np.ndarray, zeta: np.ndarray) -> np.ndarray:
    """Slopes at the knots of the natural cubic interpolating spline (R's ``interpSpline``)."""
    return CubicSpline(x, zeta, bc_type="natural")(x, 1)


def _quadratic_ends(
    coefficients: np.ndarray, x_step: np.ndarray, zeta_step: np.ndarray, inverse: np.ndarray
) -> None:
    """Make the end pieces quadratics, kept monotone, as ``backSpline`` does (in place)."""
    last = x_step.size - 1
    coefficients[0, 3] = coefficients[last, 3] = 0.0
    system = np.array([[zeta_step[0], zeta_step[0] ** 2], [1.0, 2 * zeta_step[0]]])
    coefficients[0, 1:3] = np.linalg.solve(system, [x_step[0], inverse[1]])
    coefficients[last, 2] = (x_step[last] - zeta_step[last] * coefficients[last, 1]) / zeta_step[
        last
    ] ** 2
    if coefficients[0, 2] > 0:
        coefficients[0, 2] = 0.0
        coefficients[0, 1] = x_step[0] / zeta_step[0]
    if coefficients[last, 2] < 0:
        coefficients[last, 2] = 0.0
        coefficients[last, 1] = x_step[last] / zeta_step[last]
