"""Shrinkage of random intercepts: the BLUP *is* a normal-normal posterior mean.

For a random-intercept factor with standard deviation ``sigma_b``, residual
standard deviation ``sigma`` and ``n_j`` rows in level ``j``, the weight the
data get is

    lambda_j = sigma_b^2 / (sigma_b^2 + sigma^2 / n_j),

and the BLUP is ``b_j = lambda_j * (mean of y - X beta_hat over level j)``
with conditional variance ``lambda_j * sigma^2 / n_j = (1/sigma_b^2 +
n_j/sigma^2)^-1`` (lme4's ``condVar``). That is exactly the posterior of
``b_j`` under the prior ``N(0, sigma_b^2)`` combined with the likelihood
``N(data_mean_j, sigma^2 / n_j)``: :func:`normal_prior_posterior` lays the two
pieces and their precision-weighted combination side by side.

Several grouping factors (crossed or nested)
--------------------------------------------
``lambda_j`` is computed with the same formula for each factor, from that
factor's ``sigma_f`` and its levels' row counts. It is the weight given *the
other factors' BLUPs*: the level's data mean is then taken over the partial
residuals ``y - X beta_hat - (BLUPs of the other factors)``, and
``lambda_j * data_mean_j`` still equals the BLUP exactly (the mixed-model
equations solved one factor at a time). The matching variance
``lambda_j * sigma^2 / n_j`` holds the other effects fixed, so it is at most
lme4's ``condVar``, which also accounts for their uncertainty.

The classic demonstration (:data:`SEED_SCENARIOS`, :func:`scenarios`): five
groups of five rows with ``(sigma_g, sigma_e)`` = (1, 5), (5, 5), (5, 1) and
five groups of 500 rows with (1, 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeshier import datasets
from bayeshier.errors import ModelError
from bayeshier.reml import RemlFit, fit_reml
from bayeshier.spec import GroupingFactor

__all__ = [
    "SEED_SCENARIOS",
    "Scenario",
    "curves",
    "factor_sd",
    "factors",
    "normal_prior_posterior",
    "population_intercept",
    "scenario_fits",
    "scenarios",
    "simulate",
    "variance_ratio",
    "weights",
]

#: Default grand mean of simulated scenarios (the bundled seed data sit near it).
DEFAULT_MEAN = 15.0
#: Formula of the seed scenarios.
SEED_FORMULA = "y ~ 1 + (1|g)"


# ----------------------------------------------------------------- weights
def weights(sd_group: float, sigma: float, counts: np.ndarray | Sequence[float]) -> np.ndarray:
    """Shrinkage weights ``lambda = sd_group^2 / (sd_group^2 + sigma^2 / n)``.

    Parameters
    ----------
    sd_group : float
        Standard deviation of the group effects (0 gives weight 0: complete pooling).
    sigma : float
        Residual standard deviation (must be positive).
    counts : array_like
        Rows per group.

    Returns
    -------
    numpy.ndarray
        One weight in [0, 1) per group.

    """
    counts = np.asarray(counts, dtype=float)
    prior_var = float(sd_group) ** 2
    return prior_var / (prior_var + float(sigma) ** 2 / counts)


def factor_sd(fit: RemlFit, name: str) -> float:
    """REML/ML estimate of the standard deviation of grouping factor ``name``."""
    covariance = fit.covariances[fit.spec.factor(name).name]
    return float(np.sqrt(covariance.loc["Intercept", "Intercept"]))


def variance_ratio(fit: RemlFit, name: str) -> float:
    """``sd_f^2 / sigma^2`` of grouping factor ``name``: the curve of :func:`curves` it sits on."""
    return (factor_sd(fit, name) / fit.sigma) ** 2


def population_intercept(fit: RemlFit) -> float:
    """The fixed intercept (the population mean the BLUPs shrink toward), 0 without one."""
    return float(fit.fixef.get("Intercept", 0.0))


def factors(fit: RemlFit) -> pd.DataFrame:
    """Shrinkage weight of every level of every grouping factor.

    Parameters
    ----------
    fit : RemlFit
        A random-intercept fit.

    Returns
    -------
    pandas.DataFrame
        Columns ``factor``, ``level``, ``n`` (rows in the level) and
        ``shrinkage``: ``lambda_j = sd_f^2 / (sd_f^2 + sigma^2 / n_j)``, the
        share of the level's own (residual) mean that its BLUP keeps. With
        several factors it is the weight given the other factors' BLUPs (see
        the module notes).

    """
    blocks = []
    for factor in fit.spec.factors:
        _require_intercept_only(factor)
        counts = factor.counts()
        blocks.append(
            pd.DataFrame(
                {
                    "factor": factor.name,
                    "level": list(factor.levels),
                    "n": counts,
                    "shrinkage": weights(factor_sd(fit, factor.name), fit.sigma, counts),
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)


# --------------------------------------------------- the normal-normal view
def normal_prior_posterior(fit: RemlFit, factor: str | None = None) -> pd.DataFrame:
    """The BLUPs as the posterior of a normal prior and a normal likelihood.

    Parameters
    ----------
    fit : RemlFit
        A random-intercept fit.
    factor : str, optional
        Grouping factor to show; required when the model has several.

    Returns
    -------
    pandas.DataFrame
        Indexed by level (index name: the factor), columns

        ``prior_sd``
            ``sigma_b``, the estimated sd of the group effects (prior ``N(0, sigma_b^2)``).
        ``data_mean``
            The level's mean residual at ``beta_hat``: mean over its rows of
            ``y - X beta_hat`` (minus the other factors' BLUPs, if any).
        ``data_var``
            ``sigma^2 / n_j``, the variance of that mean.
        ``weight``
            ``lambda_j``, the data's share of the total precision.
        ``posterior_mean``, ``posterior_var``
            ``lambda_j * data_mean`` and ``(1/sigma_b^2 + 1/data_var)^-1``:
            the BLUP and (for one factor) lme4's ``condVar``. With
            ``sigma_b = 0`` the posterior is the prior: mean 0, variance 0.

        ``attrs`` hold ``factor``, ``center`` (the fixed intercept: add it to
        put every column on the scale of the level means) and ``response``.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    >>> table = normal_prior_posterior(fit)
    >>> bool(abs(table["posterior_mean"] - fit.ranef["Batch"]["Intercept"]).max() < 1e-10)
    True

    """
    grouping = _choose_factor(fit, factor)
    counts = grouping.counts().astype(float)
    prior_sd = factor_sd(fit, grouping.name)
    data_var = fit.sigma**2 / counts
    weight = weights(prior_sd, fit.sigma, counts)
    data_mean = (
        np.bincount(
            grouping.codes, weights=partial_residuals(fit, grouping.name), minlength=len(counts)
        )
        / counts
    )
    table = pd.DataFrame(
        {
            "prior_sd": prior_sd,
            "data_mean": data_mean,
            "data_var": data_var,
            "weight": weight,
            "posterior_mean": weight * data_mean,
            "posterior_var": weight * data_var,
        },
        index=pd.Index(grouping.levels, name=grouping.name),
    )
    table.attrs.update(
        factor=grouping.name, center=population_intercept(fit), response=fit.spec.response
    )
    return table


def partial_residuals(fit: RemlFit, name: str) -> np.ndarray:
    """``y - X beta_hat`` minus the BLUPs of every factor other than ``name``."""
    residual = fit.spec.y - fit.spec.X @ fit.fixef.to_numpy()
    for other in fit.spec.factors:
        if other.name != name:
            effects = fit.ranef[other.name].to_numpy()[other.codes]
            residual = residual - np.einsum("ik,ik->i", other.columns(), effects)
    return residual


def _choose_factor(fit: RemlFit, name: str | None) -> GroupingFactor:
    if name is not None:
        return _require_intercept_only(fit.spec.factor(name))
    if len(fit.spec.factors) > 1:
        names = ", ".join(repr(f.name) for f in fit.spec.factors)
        raise ModelError(
            f"The model has several grouping factors ({names}): choose one with factor=."
        )
    return _require_intercept_only(fit.spec.factors[0])


def _require_intercept_only(factor: GroupingFactor) -> GroupingFactor:
    """The scalar weights here are for random intercepts; say where slopes are shown."""
    if not factor.intercept_only:
        raise ModelError(
            f"The grouping factor {factor.name!r} has random slopes ({', '.join(factor.terms)}): "
            "its shrinkage is a matrix, not the scalar lambda_j of a random intercept. Use "
            "bayeshier.compare(fit) (per-term rows) and bayeshier.plots.shrinkage_2d."
        )
    return factor


# ------------------------------------------------------------ the λ curves
def curves(
    ratios: Sequence[float], sizes: Sequence[float] | np.ndarray | None = None
) -> pd.DataFrame:
    """Shrinkage weight against group size for several variance ratios.

    Parameters
    ----------
    ratios : sequence of float
        Variance ratios ``sigma_b^2 / sigma^2``.
    sizes : array_like, optional
        Group sizes ``n`` (default: 60 sizes from 1 to 1000, log-spaced).

    Returns
    -------
    pandas.DataFrame
        Tidy: columns ``ratio``, ``n``, ``shrinkage`` (``ratio / (ratio + 1/n)``).

    """
    n = np.geomspace(1, 1000, 60) if sizes is None else np.asarray(sizes, dtype=float)
    blocks = [
        pd.DataFrame({"ratio": float(r), "n": n, "shrinkage": weights(np.sqrt(r), 1.0, n)})
        for r in ratios
    ]
    return pd.concat(blocks, ignore_index=True)


# ----------------------------------------------------------- the scenarios
@dataclass(frozen=True)
class Scenario:
    """A balanced random-intercept design: groups x rows per group, sigma_g, sigma_e.

    Attributes
    ----------
    name : str
        Label (for the bundled seed scenarios, the data set's name).
    n_groups, n_per_group : int
        Number of groups and rows in each.
    sigma_g, sigma_e : float
        True sd of the group effects and of the residuals.

    """

    name: str
    n_groups: int
    n_per_group: int
    sigma_g: float
    sigma_e: float

    @property
    def variance_ratio(self) -> float:
        """``sigma_g^2 / sigma_e^2``."""
        return self.sigma_g**2 / self.sigma_e**2

    @property
    def true_shrinkage(self) -> float:
        """``lambda`` at the true sds (the same for every group: the design is balanced)."""
        return float(weights(self.sigma_g, self.sigma_e, [self.n_per_group])[0])

    def simulate(self, seed: int | None = None, mean: float = DEFAULT_MEAN) -> pd.DataFrame:
        """Draw a data set of this design (see :func:`simulate`)."""
        return simulate(
            self.n_groups, self.n_per_group, self.sigma_g, self.sigma_e, mean=mean, seed=seed
        )

    def load(self) -> pd.DataFrame:
        """The bundled exact data set of this scenario (only for :data:`SEED_SCENARIOS`)."""
        return datasets.load(self.name)


#: The four classic designs, named after their bundled data sets.
SEED_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("seed_model1", 5, 5, 1.0, 5.0),
    Scenario("seed_model1b", 5, 500, 1.0, 5.0),
    Scenario("seed_model2", 5, 5, 5.0, 5.0),
    Scenario("seed_model3", 5, 5, 5.0, 1.0),
)


def simulate(
    n_groups: int,
    n_per_group: int,
    sigma_g: float,
    sigma_e: float,
    *,
    mean: float = DEFAULT_MEAN,
    seed: int | None = None,
) -> pd.DataFrame:
    """Simulate ``y = mean + b_g + e`` with ``b_g ~ N(0, sigma_g^2)``, ``e ~ N(0, sigma_e^2)``.

    Parameters
    ----------
    n_groups, n_per_group : int
        Design size (balanced).
    sigma_g, sigma_e : float
        Group and residual standard deviations.
    mean : float
        Grand mean.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    pandas.DataFrame
        Columns ``y`` and ``g`` (a Categorical with levels ``"1"``, ``"2"``, ...),
        like the bundled seed data; fit with ``"y ~ 1 + (1|g)"``.

    """
    if n_groups < 2 or n_per_group < 1:
        raise ModelError(
            f"Need at least 2 groups of at least 1 row, got {n_groups} x {n_per_group}."
        )
    rng = np.random.default_rng(seed)
    effects = rng.normal(0.0, sigma_g, n_groups)
    codes = np.repeat(np.arange(n_groups), n_per_group)
    y = mean + effects[codes] + rng.normal(0.0, sigma_e, codes.size)
    labels = [str(i + 1) for i in range(n_groups)]
    return pd.DataFrame({"y": y, "g": pd.Categorical.from_codes(codes, categories=labels)})


def scenarios(seed: int | None = None, *, bundled: bool = False) -> dict[str, pd.DataFrame]:
    """Data sets of the four classic scenarios, keyed by name.

    Parameters
    ----------
    seed : int, optional
        Seed for simulating fresh data sets (scenario ``k`` uses ``seed + k``).
    bundled : bool
        Return the four exact bundled data sets instead (``seed`` is ignored).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``seed_model1`` (5x5, sigma_g=1, sigma_e=5), ``seed_model1b`` (5x500,
        1, 5), ``seed_model2`` (5x5, 5, 5), ``seed_model3`` (5x5, 5, 1).

    """
    if bundled:
        return {s.name: s.load() for s in SEED_SCENARIOS}
    return {
        s.name: s.simulate(None if seed is None else seed + k) for k, s in enumerate(SEED_SCENARIOS)
    }


def scenario_fits(data: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """REML shrinkage of each seed scenario next to its true value.

    Parameters
    ----------
    data : dict, optional
        Data sets keyed by scenario name (default: the bundled ones).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario``, ``n_groups``, ``n`` (rows per group),
        ``sigma_g``, ``sigma_e``, ``ratio`` (true ``sigma_g^2/sigma_e^2``),
        ``true_shrinkage``, ``sd_g_hat``, ``sigma_hat``, ``shrinkage`` (REML).

    """
    data = scenarios(bundled=True) if data is None else data
    rows = []
    for scenario in SEED_SCENARIOS:
        if scenario.name not in data:
            continue
        fit = fit_reml(SEED_FORMULA, data[scenario.name])
        sd_hat = factor_sd(fit, "g")
        rows.append(
            {
                "scenario": scenario.name,
                "n_groups": scenario.n_groups,
                "n": scenario.n_per_group,
                "sigma_g": scenario.sigma_g,
                "sigma_e": scenario.sigma_e,
                "ratio": scenario.variance_ratio,
                "true_shrinkage": scenario.true_shrinkage,
                "sd_g_hat": sd_hat,
                "sigma_hat": fit.sigma,
                "shrinkage": float(weights(sd_hat, fit.sigma, [scenario.n_per_group])[0]),
            }
        )
    return pd.DataFrame(rows)
