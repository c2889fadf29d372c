"""The covariance parameters theta and the relative covariance factors they fill.

Each grouping factor ``f`` with ``k`` random-effect columns per level has a
lower-triangular ``k x k`` relative covariance factor ``T_f``: the
covariance of its effects at every level is ``sigma^2 T_f T_f'``, and
``Lambda = blockdiag(I_levels (x) T_f)``. ``T_f`` is block diagonal, one
block per random-effect term of ``f`` (``(Days|Subject)`` is one 2 x 2 block,
``(Days||Subject)`` two 1 x 1 blocks).

theta lists the free entries in lme4's order: factors in spec order, terms in
order, and within a term the lower triangle column by column, so that
``(Days|Subject)`` has ``theta = (T11, T21, T22)``. Diagonal entries are
bounded below by 0, the others are free (lme4's ``lower``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.spec.model_spec import GroupingFactor

__all__ = ["ThetaLayout", "theta_layout"]


@dataclass(frozen=True, eq=False)
class ThetaLayout:
    """Where each theta sits in the relative covariance factors.

    Attributes
    ----------
    sizes : tuple of int
        Random-effect columns per level of each factor (``k_f``).
    factor_of : numpy.ndarray
        Factor index of every theta.
    rows, cols : numpy.ndarray
        Position of every theta inside its factor's ``T_f``.
    names : tuple of str
        lme4's names of theta: ``"Subject.(Intercept)"``,
        ``"Subject.Days.(Intercept)"`` (an off-diagonal entry), ``"Subject.Days"``.

    """

    sizes: tuple[int, ...]
    factor_of: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    names: tuple[str, ...]

    @property
    def n_theta(self) -> int:
        """Number of covariance parameters."""
        return int(self.factor_of.size)

    @property
    def diagonal(self) -> np.ndarray:
        """Mask of the thetas on a diagonal (bounded below by 0)."""
        return self.rows == self.cols

    @property
    def intercepts_only(self) -> bool:
        """Whether every factor has one column (theta is a vector of relative sds)."""
        return all(k == 1 for k in self.sizes)

    def start(self) -> np.ndarray:
        """lme4's start: ``T_f = I`` (every sd equal to sigma, no correlation)."""
        return self.diagonal.astype(float)

    def relative_factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """The lower-triangular ``T_f`` of every factor at ``theta``."""
        factors = [np.zeros((k, k)) for k in self.sizes]
        for value, f, r, c in zip(theta, self.factor_of, self.rows, self.cols, strict=True):
            factors[f][r, c] = value
        return factors

    def gather(self, per_factor: list[np.ndarray]) -> np.ndarray:
        """Read the theta positions out of one ``k_f x k_f`` matrix per factor."""
        return np.array(
            [
                per_factor[f][r, c]
                for f, r, c in zip(self.factor_of, self.rows, self.cols, strict=True)
            ]
        )

    def factor_positions(self, index: int) -> np.ndarray:
        """Positions in theta of the entries of factor ``index``."""
        return np.flatnonzero(self.factor_of == index)

    def single_factor(self, index: int) -> ThetaLayout:
        """The layout of the model with factor ``index`` as its only factor."""
        positions = self.factor_positions(index)
        return ThetaLayout(
            sizes=(self.sizes[index],),
            factor_of=np.zeros(positions.size, dtype=np.intp),
            rows=self.rows[positions],
            cols=self.cols[positions],
            names=tuple(self.names[i] for i in positions),
        )


def theta_layout(factors: tuple[GroupingFactor, ...]) -> ThetaLayout:
    """The theta layout of a model's grouping factors (spec order)."""
    factor_of, rows, cols, names = [], [], [], []
    for index, factor in enumerate(factors):
        offset = 0
        for block in factor.blocks:
            for c in range(block):
                for r in range(c, block):
                    factor_of.append(index)
                    rows.append(offset + r)
                    cols.append(offset + c)
                    names.append(_theta_name(factor, offset + r, offset + c))
            offset += block
    return ThetaLayout(
        sizes=tuple(f.n_columns for f in factors),
        factor_of=np.array(factor_of, dtype=np.intp),
        rows=np.array(rows, dtype=np.intp),
        cols=np.array(cols, dtype=np.intp),
        names=tuple(names),
    )


def lme4_term(name: str) -> str:
    """A column name as lme4 prints it (``Intercept`` -> ``(Intercept)``)."""
    return "(Intercept)" if name == "Intercept" else name


def _theta_name(factor: GroupingFactor, row: int, col: int) -> str:
    terms = factor.terms
    if row == col:
        return f"{factor.name}.{lme4_term(terms[row])}"
    return f"{factor.name}.{lme4_term(terms[row])}.{lme4_term(terms[col])}"
