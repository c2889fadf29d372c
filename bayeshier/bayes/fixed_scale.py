"""The internal scale of the fixed effects and the map back to the user's scale.

Non-intercept columns of ``X`` are centered, and the sampler works in the
coordinates ``z`` of an affine map ``nu = nu_hat + L z``, where ``nu`` are
the coefficients of the centered design (the intercept at the predictors'
means, then the slopes), ``nu_hat`` is the REML estimate and ``L L'`` its GLS
covariance. The posterior of ``z`` is close to standard normal and
uncorrelated whatever the scale or collinearity of the predictors; ``beta =
to_user @ nu`` is linear, so priors stated on ``beta`` hold exactly (the
Jacobian is constant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt
import scipy.linalg as sla
from pymc.logprob.transforms import Transform
from pytensor.tensor.variable import TensorVariable

from bayeshier.bayes.moments import (
    DataMoments,
    data_moments,
    response_less_offset,
    row_weights,
)
from bayeshier.bayes.priors import intercept_index
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import ModelSpec, thin_r

__all__ = [
    "Affine",
    "BatchedAffine",
    "InternalDesign",
    "fixed_start",
    "internal_design",
]


class Affine(Transform):
    """``value = loc + scale @ z`` (``scale`` a lower-triangular matrix or a vector).

    The sampler sees ``z``; the log-Jacobian is the constant ``log|det scale|``,
    spread over the elements.
    """

    name = "affine"

    def __init__(self, loc: np.ndarray, scale: np.ndarray):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.matrix = self.scale.ndim == 2
        diag = np.diag(self.scale) if self.matrix else self.scale
        self.log_diag = np.log(np.abs(diag))

    def forward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constrained value -> sampler coordinates."""
        centered = value - self.loc
        if self.matrix:
            inverse = np.linalg.inv(self.scale)
            return pt.dot(centered, inverse.T)
        return centered / self.scale

    def backward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Sampler coordinates -> constrained value."""
        if self.matrix:
            return self.loc + pt.dot(value, self.scale.T)
        return self.loc + value * self.scale

    def log_jac_det(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constant log-Jacobian, one term per element."""
        return pt.zeros_like(value) + self.log_diag


class BatchedAffine(Transform):
    """``value[j] = loc[j] + scale[j] @ z[j]`` per level ``j`` (vector-valued group effects).

    ``loc`` is levels x k and ``scale`` levels x k x k lower-triangular
    (the Cholesky factors of the effects' conditional covariances). The
    log-Jacobian is the constant ``sum_j log|det scale[j]|``, one number for
    the whole variable (PyMC then sums the variable's log density to match,
    whether it is elementwise or one block).
    """

    name = "batched_affine"

    def __init__(self, loc: np.ndarray, scale: np.ndarray):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.inverse = np.linalg.inv(self.scale)
        diagonals = np.diagonal(self.scale, axis1=-2, axis2=-1)
        self.log_det = float(np.log(np.abs(diagonals)).sum())

    def forward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constrained value -> sampler coordinates."""
        centered = value - self.loc
        return pt.sum(self.inverse * centered[..., None, :], axis=-1)

    def backward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Sampler coordinates -> constrained value."""
        return self.loc + pt.sum(self.scale * value[..., None, :], axis=-1)

    def log_jac_det(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """The constant log-Jacobian of the whole variable (a scalar)."""
        return pt.as_tensor(self.log_det)


@dataclass(frozen=True, eq=False)
class InternalDesign:
    """The fixed-effects design on the scale the sampler uses.

    Attributes
    ----------
    Xc : numpy.ndarray or None
        ``X`` with its non-intercept columns centered (when there is an
        intercept); None when the spec holds no rows (a Dask DataFrame).
    to_user : numpy.ndarray
        ``beta = to_user @ nu`` maps centered-design coefficients to the user's.
    R : numpy.ndarray
        ``R`` of a thin QR ``W^1/2 Xc = Q R`` (positive diagonal; ``W`` the
        diagonal of prior weights, the identity without ``weights=``).
    Qty : numpy.ndarray
        ``Q'W^1/2 (y - offset)`` (``Q'y`` without weights and offset).
    means : numpy.ndarray
        The values subtracted from each column of ``X`` (0 for the intercept,
        and for every column without an intercept).
    moments : DataMoments
        Means and sds of the columns (for the priors and starting values).

    """

    Xc: np.ndarray | None
    to_user: np.ndarray
    R: np.ndarray
    Qty: np.ndarray
    means: np.ndarray
    moments: DataMoments

    @property
    def ols(self) -> np.ndarray:
        """The OLS coefficients of the centered design, ``R^-1 Q'y``."""
        if not len(self.Qty):
            return np.zeros(0)
        return sla.solve_triangular(self.R, self.Qty, check_finite=False)


def internal_design(spec: ModelSpec, moments: DataMoments | None = None) -> InternalDesign:
    """Center the non-intercept columns of ``X`` and take the QR of the result.

    With an intercept at position ``i`` and column means ``m``, the centered
    design is ``Xc = X - 1 m'`` off column ``i``; its coefficients ``nu`` equal
    ``beta`` except ``nu_i = beta_i + m' beta`` (the intercept at the means), so
    ``beta = to_user @ nu`` with ``to_user`` the identity plus ``-m`` in row ``i``.

    With prior weights ``W`` and an offset the QR is that of ``W^1/2 Xc``
    and ``Q'y`` is ``Q'W^1/2 (y - offset)``: the weighted least-squares problem.

    Without rows, ``Xc = X C`` with ``C = I - e_i m'``, so the ``R`` of
    ``W^1/2 Xc`` is that of ``R_X C`` (``R_X`` from the fixed-effects sums,
    which are weighted) and ``Xc'W(y - offset) = C' X'W(y - offset)``.
    """
    moments = data_moments(spec) if moments is None else moments
    p = spec.n_fixed
    to_user = np.eye(p)
    means = np.zeros(p)
    i = intercept_index(spec)
    if i is not None:
        means = moments.X.mean.copy()
        means[i] = 0.0
        to_user[i] -= means
        to_user[i, i] = 1.0
    if spec.holds_rows:
        Xc = spec.X - means
        R, xcty = _weighted_r_and_xty(spec, Xc) if p else (np.zeros((0, 0)), np.zeros(0))
    else:
        Xc, centering = None, np.eye(p)
        if i is not None:
            centering[i] -= means
        R = np.linalg.qr(spec.fixed_r @ centering, mode="r") if p else np.zeros((0, 0))
        xcty = centering.T @ spec.fixed_xty
    R = R * np.sign(np.diag(R))[:, None]
    Qty = sla.solve_triangular(R, xcty, trans="T", check_finite=False) if p else np.zeros(0)
    return InternalDesign(Xc, to_user, R, Qty, means, moments)


def _weighted_r_and_xty(spec: ModelSpec, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``R`` of ``W^1/2 Xc`` and ``Xc'W(y - offset)`` (``W`` the prior weights, I without)."""
    weights = row_weights(spec)
    if weights is None:
        return thin_r(Xc), Xc.T @ response_less_offset(spec)
    return thin_r(np.sqrt(weights)[:, None] * Xc), Xc.T @ (weights * response_less_offset(spec))


def fixed_start(fit: RemlFit, design: InternalDesign) -> tuple[np.ndarray, np.ndarray]:
    """REML coefficients of the centered design and the Cholesky factor of their covariance.

    ``beta = to_user @ nu`` is linear, so the covariance of ``nu`` is the
    REML ``vcov`` (``sigma^2 (X'V^-1 X)^-1``) mapped by ``to_user^-1``.
    """
    beta = fit.fixef.to_numpy(dtype=float)
    if not len(beta):
        return beta, np.zeros((0, 0))
    to_nu = np.linalg.inv(design.to_user)
    cov = to_nu @ fit.vcov.to_numpy(dtype=float) @ to_nu.T
    return to_nu @ beta, np.linalg.cholesky(0.5 * (cov + cov.T))
