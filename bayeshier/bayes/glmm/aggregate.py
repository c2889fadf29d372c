"""Exact aggregation of rows into binomial or Poisson cells.

Rows that share their fixed-effect row, their offset and the levels of every
grouping factor share their linear predictor ``eta``. Their likelihood is then
that of one cell:

* binomial (Bernoulli rows included): successes ``k = sum(y_i n_i)`` of
  ``n = sum(n_i)`` trials, ``log p = k log mu + (n - k) log(1 - mu)`` plus a
  constant;
* Poisson: count ``k = sum(y_i)`` with mean ``m mu``, ``m`` the number of rows
  (the sum of their prior weights), since a sum of independent Poisson
  counts with one mean is Poisson.

Up to a constant that does not depend on the parameters, the cells' log
density equals the rows', so the posterior is exactly the same; the sampler
evaluates one term per cell instead of one per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.spec.model_spec import ModelSpec

__all__ = ["Cells", "aggregate_rows"]


@dataclass(frozen=True, eq=False)
class Cells:
    """Rows merged into cells that share their linear predictor.

    Attributes
    ----------
    X : numpy.ndarray
        Fixed-effect row of each cell (cells x p).
    codes : tuple of numpy.ndarray
        Level code of each cell, one array per grouping factor (``spec.factors`` order).
    successes : numpy.ndarray
        Binomial successes or Poisson counts of each cell.
    trials : numpy.ndarray
        Binomial trials, or for the Poisson the exposure multiplier (number of rows).
    offset : numpy.ndarray
        Offset of each cell (on the link scale).
    row_cell : numpy.ndarray
        Cell of every row of the data.
    row_successes, row_trials : numpy.ndarray
        Successes (counts) and trials (prior weights) of every row.

    """

    X: np.ndarray
    codes: tuple[np.ndarray, ...]
    successes: np.ndarray
    trials: np.ndarray
    offset: np.ndarray
    row_cell: np.ndarray
    row_successes: np.ndarray
    row_trials: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.successes)

    @property
    def n_rows(self) -> int:
        """Number of rows merged."""
        return len(self.row_cell)


def aggregate_rows(spec: ModelSpec, y: np.ndarray, n: np.ndarray, offset: np.ndarray) -> Cells:
    """Merge rows sharing fixed-effect row, offset and group levels into cells.

    Parameters
    ----------
    spec : ModelSpec
        The specification of the right side (``X`` and the grouping factors).
    y : numpy.ndarray
        Proportion of successes (binomial) or count (Poisson) of each row.
    n : numpy.ndarray
        Trials (binomial) or prior weights (Poisson) of each row.
    offset : numpy.ndarray
        Offset of each row.

    Returns
    -------
    Cells
        Cells in order of first appearance.

    """
    codes = [np.asarray(f.codes, dtype=np.int64)[:, None] for f in spec.factors]
    key = np.hstack([np.asarray(spec.X, dtype=float), offset[:, None], *codes])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row_cell = rank[inverse]
    first = first[order]
    n_cells = len(first)
    successes = np.bincount(row_cell, weights=y * n, minlength=n_cells)
    trials = np.bincount(row_cell, weights=n, minlength=n_cells)
    return Cells(
        X=np.asarray(spec.X, dtype=float)[first],
        codes=tuple(np.asarray(f.codes, dtype=np.int64)[first] for f in spec.factors),
        successes=successes,
        trials=trials,
        offset=np.asarray(offset, dtype=float)[first],
        row_cell=row_cell,
        row_successes=y * n,
        row_trials=np.asarray(n, dtype=float),
    )
