"""The classic shrinkage demonstration: balanced random-intercept designs, simulated or bundled.

Five groups of five rows with ``(sigma_g, sigma_e)`` = (1, 5), (5, 5), (5, 1)
and five groups of 500 rows with (1, 5) (:data:`SEED_SCENARIOS`,
:func:`scenarios`): shrinkage grows as the group variance falls relative to
the residual variance and as groups get fewer rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeshier.datasets import load as load_dataset
from bayeshier.errors import ModelError
from bayeshier.present.shrinkage import factor_sd, weights
from bayeshier.reml import SingularFitWarning, fit_reml

__all__ = ["SEED_FORMULA", "SEED_SCENARIOS", "Scenario", "scenario_fits", "scenarios", "simulate"]

#: Default grand mean of simulated scenarios (the bundled seed data sit near it).
DEFAULT_MEAN = 15.0
#: Formula of the seed scenarios.
SEED_FORMULA = "y ~ 1 + (1|g)"


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
    def true_kept(self) -> float:
        """``lambda`` at the true sds: the share of its own mean each (equal) group keeps."""
        return float(weights(self.sigma_g, self.sigma_e, [self.n_per_group])[0])

    def simulate(self, seed: int | None = None, mean: float = DEFAULT_MEAN) -> pd.DataFrame:
        """Draw a data set of this design (see :func:`simulate`)."""
        return simulate(
            self.n_groups, self.n_per_group, self.sigma_g, self.sigma_e, mean=mean, seed=seed
        )

    def load(self) -> pd.DataFrame:
        """The bundled exact data set of this scenario (only for :data:`SEED_SCENARIOS`)."""
        return load_dataset(self.name)


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
    """The share each seed scenario's groups keep (``lambda``), REML next to its true value.

    Parameters
    ----------
    data : dict, optional
        Data sets keyed by scenario name (default: the bundled ones).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario``, ``n_groups``, ``n`` (rows per group),
        ``sigma_g``, ``sigma_e``, ``ratio`` (true ``sigma_g^2/sigma_e^2``),
        ``true_kept`` (``lambda`` at the true sds), ``sd_g_hat``, ``sigma_hat``,
        ``kept`` (``lambda`` at the REML sds: the share of its own mean each
        group keeps), ``pooling`` (``1 - kept``) and ``singular`` (lme4's
        ``isSingular``: the REML group sd is 0, so every group is pooled
        completely). A singular fit is reported in that column instead of by a
        :class:`~bayeshier.reml.SingularFitWarning`: it is one of the regimes
        the scenarios are there to show (``seed_model1``).

    """
    data = scenarios(bundled=True) if data is None else data
    rows = []
    for scenario in SEED_SCENARIOS:
        if scenario.name not in data:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)  # the "singular" column says it
            fit = fit_reml(SEED_FORMULA, data[scenario.name])
        sd_hat = factor_sd(fit, "g")
        kept = float(weights(sd_hat, fit.sigma, [scenario.n_per_group])[0])
        rows.append(
            {
                "scenario": scenario.name,
                "n_groups": scenario.n_groups,
                "n": scenario.n_per_group,
                "sigma_g": scenario.sigma_g,
                "sigma_e": scenario.sigma_e,
                "ratio": scenario.variance_ratio,
                "true_kept": scenario.true_kept,
                "sd_g_hat": sd_hat,
                "sigma_hat": fit.sigma,
                "kept": kept,
                "pooling": 1.0 - kept,
                "singular": fit.is_singular,
            }
        )
    return pd.DataFrame(rows)
