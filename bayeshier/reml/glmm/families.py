"""Response distributions and link functions of a generalized linear mixed model.

A :class:`Family` pairs a distribution (``"binomial"`` or ``"poisson"``) with
a link (``"logit"``, ``"probit"``, ``"cloglog"`` for the binomial; ``"log"``
for the Poisson), as R's ``binomial(link = "probit")``. Every function works
on the linear predictor ``eta`` of each row, with the response held as ``y``
(a proportion for the binomial, a count for the Poisson) and ``n`` (binomial
trials, or prior weights).

For PIRLS and the Laplace gradient it gives, row by row (``D = -2 log p(y |
eta)``):

- ``mu``, ``dmu/deta``, and the working weights ``w = n (dmu/deta)^2 / V(mu)``;
- ``D``, ``D' = dD/deta`` and ``D''`` (equal to ``2 w`` for a canonical link,
  where the observed and the expected information agree);
- ``dw/deta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from bayeshier.errors import ModelError

__all__ = ["FAMILIES", "Family", "RowTerms", "make_family"]

#: Distribution -> accepted links; the first is the default (canonical) one.
FAMILIES: dict[str, tuple[str, ...]] = {
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log",),
}
_EPS = float(np.finfo(float).eps)
#: R's bounds on the logit and log scales (``logit_linkinv`` clamps at +-30).
_ETA_LIMIT = 30.0
_LOG_ETA_LIMIT = float(np.log(np.finfo(float).max)) - 1.0


@dataclass(frozen=True)
class RowTerms:
    """Per-row quantities at one linear predictor.

    Attributes
    ----------
    mu : numpy.ndarray
        Mean on the response scale (a probability for the binomial).
    mu_eta : numpy.ndarray
        ``dmu/deta``.
    weights : numpy.ndarray
        PIRLS working weights ``n (dmu/deta)^2 / V(mu)``.
    score : numpy.ndarray
        ``n (y - mu) (dmu/deta) / V(mu)``, so that ``D' = -2 score``.

    """

    mu: np.ndarray
    mu_eta: np.ndarray
    weights: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class Family:
    """A GLM family: distribution and link, as R's ``binomial(link = "logit")``.

    Attributes
    ----------
    name : str
        ``"binomial"`` or ``"poisson"``.
    link : str
        ``"logit"``, ``"probit"``, ``"cloglog"`` (binomial) or ``"log"`` (Poisson).

    """

    name: str
    link: str

    @property
    def canonical(self) -> bool:
        """Whether the link is canonical (logit, log): then ``D'' = 2 w``."""
        return self.link in ("logit", "log")

    def __str__(self) -> str:
        return f"{self.name}  ( {self.link} )"

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """The mean ``mu`` at the linear predictor ``eta``."""
        return self._mean_derivatives(eta)[0]

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """The linear predictor of the mean ``mu`` (used for starting values)."""
        mu = np.asarray(mu, dtype=float)
        if self.link == "log":
            return np.log(mu)
        if self.link == "logit":
            return special.logit(mu)
        if self.link == "probit":
            return special.ndtri(mu)
        return np.log(-np.log1p(-mu))

    def kernel_and_terms(
        self, eta: np.ndarray, y: np.ndarray, n: np.ndarray
    ) -> tuple[float, RowTerms]:
        """:meth:`log_density_kernel` and :meth:`row_terms` at once.

        For the canonical links one exponential per row serves both: with
        ``e = exp(-|eta|)`` the logit gives ``mu`` as ``1 / (1 + e)`` or ``e /
        (1 + e)`` and ``log(1 + exp(eta)) = max(eta, 0) + log1p(e)``.
        """
        if self.link == "logit":
            e = np.exp(-np.abs(eta))
            r = 1.0 / (1.0 + e)
            mu = np.where(eta >= 0.0, r, e * r)
            d1 = np.maximum(e * r * r, _EPS)
            softplus = np.maximum(eta, 0.0) + np.log1p(e)
            kernel = -2.0 * float((y * n) @ eta - n @ softplus)
            return kernel, RowTerms(mu, d1, n * d1, n * (y - mu))
        if self.link == "log":
            clipped = np.minimum(eta, _LOG_ETA_LIMIT)
            mu = np.maximum(np.exp(clipped), _EPS)
            with np.errstate(over="ignore", invalid="ignore"):  # a huge eta: D is +inf
                kernel = -2.0 * float((y * n) @ clipped - n @ mu)
            return _finite(kernel), RowTerms(mu, mu, n * mu, n * (y - mu))
        return self.log_density_kernel(eta, y, n), self.row_terms(eta, y, n)

    def row_terms(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> RowTerms:
        """``mu``, ``dmu/deta``, working weights and score of every row."""
        if self.canonical:
            return self.kernel_and_terms(eta, y, n)[1]
        mu, mu_eta, _ = self._mean_derivatives(eta)
        variance = self._variance(mu)
        ratio = mu_eta / variance
        return RowTerms(mu, mu_eta, n * mu_eta * ratio, n * (y - mu) * ratio)

    def second_terms(
        self, eta: np.ndarray, y: np.ndarray, n: np.ndarray, terms: RowTerms | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``D''`` (the observed information, times 2) and ``dw/deta`` of every row.

        For a canonical link both follow from the :class:`RowTerms` at ``eta``
        when given: ``D'' = 2 w`` and ``dw/deta = w (1 - 2 mu)`` (logit) or
        ``w`` (log).
        """
        if terms is not None and self.canonical:
            slope = terms.weights if self.link == "log" else terms.weights * (1.0 - 2.0 * terms.mu)
            return 2.0 * terms.weights, slope
        mu, d1, d2 = self._mean_derivatives(eta)
        variance = self._variance(mu)
        dvar = self._variance_derivative(mu) * d1
        weight_slope = n * (2.0 * d1 * d2 * variance - d1 * d1 * dvar) / variance**2
        if self.canonical:
            return 2.0 * n * d1 * d1 / variance, weight_slope
        ratio_slope = (d2 * variance - d1 * dvar) / variance**2
        observed = n * d1 * d1 / variance - n * (y - mu) * ratio_slope
        return 2.0 * observed, weight_slope

    def log_density_kernel(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> float:
        """``-2 log p(y | eta)`` summed over rows, without the normalizing constants."""
        if self.canonical:
            return self.kernel_and_terms(eta, y, n)[0]
        successes = y * n
        log_p, log_q = self._log_probabilities(eta)
        return float(-2.0 * (successes @ log_p + (n - successes) @ log_q))

    def log_density_constant(self, y: np.ndarray, n: np.ndarray) -> float:
        """``-2 log`` of the normalizing constants, summed over rows.

        For the binomial, the binomial coefficients of ``y n`` successes in
        ``n`` trials (as R's ``binomial()$aic``); for the Poisson, ``y!``
        weighted by the prior weights ``n``.
        """
        if self.name == "poisson":
            return float(2.0 * np.sum(n * special.gammaln(y + 1.0)))
        successes = np.round(y * n)
        trials = np.round(n)
        coefficient = (
            special.gammaln(trials + 1.0)
            - special.gammaln(successes + 1.0)
            - special.gammaln(trials - successes + 1.0)
        )
        return float(-2.0 * np.sum(coefficient))

    def deviance_residuals(self, mu: np.ndarray, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Squared deviance residuals (R's ``dev.resids``) at the means ``mu``."""
        if self.name == "poisson":
            return 2.0 * n * (special.xlogy(y, y / mu) - (y - mu))
        return 2.0 * n * (special.xlogy(y, y / mu) + special.xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))

    def pearson_residuals(self, mu: np.ndarray, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """``(y - mu) / sqrt(V(mu) / n)``: R's ``residuals(type = "pearson")``."""
        return (y - mu) * np.sqrt(n / self._variance(mu))

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        if self.name == "poisson":
            return np.maximum(mu, _EPS)
        return np.maximum(mu * (1.0 - mu), _EPS)

    def _variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu) if self.name == "poisson" else 1.0 - 2.0 * mu

    def _mean_derivatives(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``mu``, ``dmu/deta`` and ``d2mu/deta2`` (means kept inside (0, 1) or > 0)."""
        if self.link == "log":
            mu = np.exp(np.minimum(eta, _LOG_ETA_LIMIT))
            mu = np.maximum(mu, _EPS)
            return mu, mu, mu
        if self.link == "logit":
            mu = special.expit(np.clip(eta, -_ETA_LIMIT, _ETA_LIMIT))
            d1 = np.maximum(mu * (1.0 - mu), _EPS)
            return mu, d1, d1 * (1.0 - 2.0 * mu)
        if self.link == "probit":
            limit = -special.ndtri(_EPS)
            clipped = np.clip(eta, -limit, limit)
            mu = special.ndtr(clipped)
            d1 = np.maximum(np.exp(-0.5 * clipped * clipped) / np.sqrt(2.0 * np.pi), _EPS)
            return mu, d1, -clipped * d1
        clipped = np.minimum(eta, 3.6)  # cloglog: 1 - exp(-exp(3.6)) rounds to 1 - eps
        expo = np.exp(clipped)
        mu = np.clip(-np.expm1(-expo), _EPS, 1.0 - _EPS)
        d1 = np.maximum(expo * np.exp(-expo), _EPS)
        return mu, d1, d1 * (1.0 - expo)

    def _log_probabilities(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log mu`` and ``log(1 - mu)`` of the binomial, computed without cancellation."""
        if self.link == "probit":
            return special.log_ndtr(eta), special.log_ndtr(-eta)
        expo = np.exp(np.minimum(eta, _LOG_ETA_LIMIT))
        return np.log(-np.expm1(-np.maximum(expo, 1e-300))), -expo


def _finite(kernel: float) -> float:
    """``D`` itself, or ``+inf`` where the sums overflowed (a trial point far off)."""
    return kernel if np.isfinite(kernel) else float("inf")


def make_family(family: str | Family, link: str | None = None) -> Family:
    """Return the :class:`Family` a user asked for.

    Parameters
    ----------
    family : str or Family
        ``"binomial"`` or ``"poisson"`` (or a :class:`Family`).
    link : str, optional
        The link; defaults to the canonical one (logit, log).

    Raises
    ------
    ModelError
        For an unknown family or a link the family does not accept.

    """
    if isinstance(family, Family):
        if link is not None and link != family.link:
            raise ModelError(
                f"family={family!s} already has the link {family.link!r}; drop link={link!r} "
                "or pass the family by name."
            )
        return make_family(family.name, family.link)
    name = str(family).lower()
    if name not in FAMILIES:
        raise ModelError(
            f"Unknown family {family!r}: fit_glmm fits {' and '.join(map(repr, FAMILIES))}. "
            "For a Gaussian response use fit_reml."
        )
    links = FAMILIES[name]
    chosen = links[0] if link is None else str(link).lower()
    if chosen not in links:
        raise ModelError(
            f"The {name} family has no link {link!r}: use one of {', '.join(map(repr, links))}."
        )
    return Family(name, chosen)
