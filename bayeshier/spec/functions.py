"""The numeric functions a formula may call, and the stateful transforms.

Every function works on whole columns (numpy arrays), never row by row.
The stateful transforms (``scale``, ``center``, ``poly``) learn their state
from the data the model is built on and keep it, so that new data (for
``predict``, or another chunk of rows) get the same columns: that state is
a small frozen dataclass stored in the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import numpy as np

from bayeshier.errors import DataError

__all__ = [
    "UNARY",
    "CenterState",
    "PolyState",
    "ScaleState",
    "apply_poly",
    "learn_center",
    "learn_poly",
    "learn_scale",
    "logarithm",
    "parallel",
    "rounded",
]

#: One-argument functions by R name.
UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "floor": np.floor,
    "ceiling": np.ceil,
}


def logarithm(x: np.ndarray, base: float | None) -> np.ndarray:
    """``log(x)``, or ``log(x, base)`` (R's ``log(x, base = b)``)."""
    if base is None:
        return np.log(x)
    return np.log(x) / np.log(base)


def rounded(x: np.ndarray, digits: float | None) -> np.ndarray:
    """R's ``round(x, digits)`` (halves to even, as R and numpy both do)."""
    return np.round(x, int(digits or 0))


def parallel(name: str, values: list[np.ndarray]) -> np.ndarray:
    """``pmin``/``pmax``: the elementwise minimum/maximum (NaN if any is missing, as R)."""
    function = np.minimum if name == "pmin" else np.maximum
    return reduce(function, values)


@dataclass(frozen=True)
class ScaleState:
    """What ``scale(x)`` learned: the centre (``None``: not centred) and the scale."""

    center: float | None
    scale: float | None

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(x - center) / scale`` with the learned values."""
        result = x if self.center is None else x - self.center
        return result if self.scale is None else result / self.scale


@dataclass(frozen=True)
class CenterState:
    """What ``center(x)`` learned: the mean."""

    center: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x - mean``."""
        return x - self.center


def _finite(x: np.ndarray, what: str) -> np.ndarray:
    values = x[np.isfinite(x)]
    if values.size < 2:
        raise DataError(f"{what} needs at least two non-missing values, found {values.size}.")
    return values


def learn_scale(x: np.ndarray, center: bool, scale: bool, what: str) -> ScaleState:
    """R's ``scale``: mean and sd (n - 1) of the non-missing values; rms if not centred."""
    values = _finite(x, what)
    mean = float(values.mean()) if center else None
    if not scale:
        return ScaleState(mean, None)
    deviations = values - mean if center else values
    spread = float(np.sqrt(np.sum(deviations**2) / (values.size - 1)))
    if spread == 0.0:
        raise DataError(f"{what}: the values do not vary, so they cannot be scaled.")
    return ScaleState(mean, spread)


def learn_center(x: np.ndarray, what: str) -> CenterState:
    """The mean of the non-missing values."""
    return CenterState(float(_finite(x, what).mean()))


@dataclass(frozen=True)
class PolyState:
    """The three-term recurrence of R's orthogonal ``poly(x, degree)`` (its ``coefs``).

    Attributes
    ----------
    alpha : tuple of float
        R's ``alpha`` (one per degree).
    norm2 : tuple of float
        R's ``norm2`` (``degree + 2`` values, the first 1).

    """

    alpha: tuple[float, ...]
    norm2: tuple[float, ...]


def learn_poly(x: np.ndarray, degree: int, what: str) -> PolyState:
    """R's ``poly(x, degree)`` coefficients, from the QR of the centred Vandermonde matrix."""
    values = _finite(x, what)
    if degree >= np.unique(values).size:
        raise DataError(
            f"{what}: the degree ({degree}) must be less than the number of distinct values "
            f"({np.unique(values).size})."
        )
    mean = float(values.mean())
    centred = values - mean
    vandermonde = centred[:, None] ** np.arange(degree + 1)
    q, r = np.linalg.qr(vandermonde)
    z = q * np.diag(r)
    norm2 = np.sum(z**2, axis=0)
    alpha = (np.sum(centred[:, None] * z**2, axis=0) / norm2 + mean)[:degree]
    return PolyState(tuple(map(float, alpha)), (1.0, *map(float, norm2)))


def apply_poly(x: np.ndarray, state: PolyState) -> np.ndarray:
    """The orthogonal polynomial columns of ``x`` (n x degree), as R's ``predict(poly)``."""
    alpha, norm2 = state.alpha, state.norm2
    degree = len(alpha)
    z = np.ones((x.shape[0], degree + 1))
    z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        z[:, i + 1] = (x - alpha[i]) * z[:, i] - (norm2[i + 1] / norm2[i]) * z[:, i - 1]
    z /= np.sqrt(np.asarray(norm2[1:]))
    return z[:, 1:]


def raw_poly(x: np.ndarray, degree: int) -> np.ndarray:
    """``poly(x, degree, raw = TRUE)``: the powers ``x, x^2, ...`` (n x degree)."""
    return x[:, None] ** np.arange(1, degree + 1)
