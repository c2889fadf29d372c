"""The edges of the parameter space the REML criterion cannot resolve.

Two situations make the profiled criterion useless, and both are detected
from the cross products alone (no pass over the rows):

* **Zero residual variance.** When the fixed effects and the grouping
  factors, with every random effect free, reproduce ``y`` exactly (``y``
  constant within every level of its factor, say), the criterion falls
  without bound as ``theta`` grows: the likelihood has no maximum, and any
  "optimum" an optimizer reports is wherever it gave up. The fixed effects
  alone may reproduce ``y`` (``y = 3 + 2 x`` exactly): the residual of OLS
  is then rounding, below :data:`EXACT_FIT_SHARE` of ``y'y``.
  :func:`saturated_residual_share` measures that residual;
  :func:`check_residual_variance` refuses such a model.
* **A variance ratio beyond double precision.** With a group sd ``c`` times
  the residual sd and levels of ``n`` rows, the Cholesky factor subtracts
  numbers of size ``c^2 n`` to recover ones of size 1, so the criterion
  carries a relative rounding error of about ``eps * c^2 n``.
  :func:`rounding_excess` measures it at the optimum, so that the fit can say
  why its residual sd is not to be trusted instead of reporting a
  convergence failure without a reason.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from bayeshier.errors import ModelError
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import first_block_contribution

__all__ = [
    "EXACT_FIT_SHARE",
    "RESIDUAL_SHARE_TOLERANCE",
    "ROUNDING_TOLERANCE",
    "check_residual_variance",
    "rounding_excess",
    "saturated_residual_share",
]

#: A saturated residual below this share of the OLS residual counts as zero.
RESIDUAL_SHARE_TOLERANCE = 1e-13
#: An OLS residual sum of squares below this share of ``y'y`` is rounding: the
#: fixed effects reproduce ``y`` exactly (a residual sd below 1e-10 of y's size).
EXACT_FIT_SHARE = 1e-20
#: Relative rounding error of the criterion above which the fit warns.
ROUNDING_TOLERANCE = 1e-8
#: Relative cut-off of the eigenvalues treated as zero in the pseudo-inverses.
_RCOND = 1e-12
#: Above this many random-effect columns besides the first factor's, only the
#: first factor is freed (its eigen-decomposition would cost more than a fit).
_DENSE_REST_LIMIT = 400


def saturated_residual_share(cp: CrossProducts) -> float:
    """Residual sum of squares of ``y`` on ``[X Z]`` (no penalty), as a share of OLS's.

    The limit of the penalized residual as every relative covariance factor
    grows without bound: what is left of ``y`` once the fixed effects and
    every level's effects are free. Computed from the blocked cross products
    with pseudo-inverses, so that aliased random-effect columns do no harm.
    With more than ``_DENSE_REST_LIMIT`` columns in the other factors, only the
    first (largest) factor's effects are freed, which bounds the share from
    above.

    Returns
    -------
    float
        In [0, 1]; 0 means the effects reproduce ``y`` exactly.

    """
    residual = float(cp.rest[-1, -1])
    if residual <= EXACT_FIT_SHARE * (residual + float(cp.ols @ cp.ols)):
        return 0.0  # the fixed effects alone reproduce y, to rounding (a constant y, say)
    inverses = _level_pseudo_inverses(cp.first_gram)
    schur = cp.rest - first_block_contribution(cp, inverses)
    if cp.q_rest > _DENSE_REST_LIMIT:  # the first factor alone: an upper bound, and cheap
        schur = schur[cp.q_rest :, cp.q_rest :]
    last = schur[-1, :-1]  # the lower triangle holds the Schur complement
    explained = last @ sla.pinvh(schur[:-1, :-1], lower=True, rtol=_RCOND) @ last
    return float(max(schur[-1, -1] - explained, 0.0) / residual)


def check_residual_variance(cp: CrossProducts, factor_names: list[str]) -> None:
    """Raise a :class:`~bayeshier.errors.ModelError` if the residual variance is zero.

    Parameters
    ----------
    cp : CrossProducts
        The cross products of the model.
    factor_names : list of str
        The grouping factors' names, for the message.

    """
    if saturated_residual_share(cp) > RESIDUAL_SHARE_TOLERANCE:
        return
    names = ", ".join(repr(name) for name in factor_names)
    raise ModelError(
        "The residual variance is zero, or too small to resolve next to the rest: the "
        f"fixed effects and the levels of {names} reproduce the response exactly (e.g. "
        "it is constant within every level), up to less than 1e-13 of what the fixed "
        "effects alone leave, so the likelihood grows without bound as the residual sd "
        "falls to 0 and has no maximum; lme4 cannot fit it either. A linear mixed model "
        "needs "
        "variation within the groups: fit the level means with a fixed-effects model, "
        "or check that the response is the column you meant."
    )


def rounding_excess(cp: CrossProducts, relative_factors: list[np.ndarray]) -> float:
    """Relative rounding error of the criterion at these relative covariance factors.

    About ``eps * max_f (largest eigenvalue of T_f T_f') * (largest level size of
    the first factor)``: the size of the numbers the Cholesky factor subtracts
    from each other, relative to the residual it recovers.
    """
    biggest = max(float(np.linalg.norm(t, 2)) ** 2 for t in relative_factors)
    largest_level = float(np.max(np.trace(cp.first_gram, axis1=1, axis2=2)))
    return float(np.finfo(float).eps * biggest * max(largest_level, 1.0))


def _level_pseudo_inverses(grams: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of every level's ``k x k`` gram (levels x k x k)."""
    if grams.shape[1] == 1:
        counts = grams[:, 0, 0]
        inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
        return inverse.reshape(-1, 1, 1)
    return np.stack([sla.pinvh(block, rtol=_RCOND) for block in grams])
