"""Property-based checks of the REML/ML solver against a brute-force dense computation.

Every reference value here is computed from the marginal multivariate-normal
likelihood of ``y ~ N(X beta, sigma^2 V0)`` with ``V0 = I + Z Lambda Lambda' Z'``,
using dense ``n x n`` matrices built straight from the DataFrame (the design
``X`` and the indicators ``Z`` are rebuilt here, not taken from the spec, and
nothing from :mod:`bayeshier.reml.crossprod` or :mod:`bayeshier.reml.factor` is
used in the reference). The problems are small (at most 40 rows), so the
dense algebra is exact to rounding.

The spec orders grouping factors by number of levels (largest first), so
``theta`` is kept here as a mapping from factor name to value and mapped to
the spec's order explicitly.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference_cases import factor_at
from scipy.optimize import minimize_scalar

from bayeshier import RemlFit, fit_reml
from bayeshier.errors import ModelError, PrecisionWarning
from bayeshier.reml.crossprod import cross_products
from bayeshier.reml.factor import profiled_deviance
from bayeshier.spec.model_spec import build_spec

_LOG_2PI = float(np.log(2.0 * np.pi))
_SETTINGS = settings(
    max_examples=int(os.environ.get("BAYESHIER_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_RTOL = 1e-7
_ATOL = 1e-9
_CRITERION_RTOL = 1e-9
_STEP = 1e-3
_SLACK = 1e-7
_MIN_RESIDUAL_DOF = 3


# ---------------------------------------------------------------------------
# Random problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A small random-intercept problem.

    Attributes
    ----------
    data : pandas.DataFrame
        Columns ``y``, the covariates ``x1``, ``x2`` (as many as used) and the
        grouping columns ``g1`` (and ``g2``) holding string labels.
    formula : str
        The lme4-style formula of the model.
    covariates : tuple of str
        Names of the numeric covariates in the fixed part.
    groups : tuple of str
        Names of the grouping columns, in formula order.
    """

    data: pd.DataFrame
    formula: str
    covariates: tuple[str, ...]
    groups: tuple[str, ...]


def _cover_levels(codes: list[int], n_levels: int) -> np.ndarray:
    """Force every level to occur by overwriting the first ``n_levels`` codes.

    Parameters
    ----------
    codes : list of int
        Level codes of the rows, each in ``range(n_levels)``.
    n_levels : int
        Number of levels; must not exceed ``len(codes)``.

    Returns
    -------
    numpy.ndarray
        The codes, with rows ``0 .. n_levels - 1`` set to ``0 .. n_levels - 1``.
    """
    out = np.asarray(codes, dtype=int).copy()
    out[:n_levels] = np.arange(n_levels)
    return out


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """Draw a random problem with one or two (crossed or nested) grouping factors.

    The structure (sizes, level assignment, number of covariates) is drawn by
    hypothesis so that it shrinks; the continuous values (covariates, response)
    come from a seeded generator so that shrinking never makes the design
    degenerate (e.g. an all-zero covariate that the spec would drop).

    The number of rows is at least ``p + q + _MIN_RESIDUAL_DOF`` (``q`` the
    total number of levels), so ``[X Z]`` never spans all of ``R^n``: with
    ``y`` in the column space of ``[X Z]`` the criterion is unbounded below
    (``theta -> infinity``, ``sigma -> 0``) and there is no optimum to check.

    Parameters
    ----------
    draw : hypothesis.strategies.DrawFn
        Hypothesis' draw function.

    Returns
    -------
    Problem
    """
    layout = draw(st.sampled_from(["one", "crossed", "nested"]), label="layout")
    n_groups = 1 if layout == "one" else 2
    nested = layout == "nested"
    n_cov = draw(st.integers(0, 2), label="n_covariates")
    k1 = draw(st.integers(2, 6), label="k1")
    # nested: g2 is the fine factor and g1 (coarser, k1 <= k2 levels) a function of it
    k2 = draw(st.integers(k1 if nested else 2, 6), label="k2") if n_groups == 2 else 0
    n = draw(st.integers(max(8, 1 + n_cov + k1 + k2 + _MIN_RESIDUAL_DOF), 40), label="n")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    g1 = _cover_levels(draw(st.lists(st.integers(0, k1 - 1), min_size=n, max_size=n)), k1)
    codes = [g1]
    if nested:
        parent = _cover_levels(draw(st.lists(st.integers(0, k1 - 1), min_size=k2, max_size=k2)), k1)
        g2 = _cover_levels(draw(st.lists(st.integers(0, k2 - 1), min_size=n, max_size=n)), k2)
        codes = [parent[g2], g2]
    elif n_groups == 2:
        g2 = draw(st.lists(st.integers(0, k2 - 1), min_size=n, max_size=n))
        # put g2's forced levels on the rows after g1's forced ones
        codes = [g1, np.roll(_cover_levels(g2, k2), k1)]
    rng = np.random.default_rng(seed)
    groups = tuple(f"g{i + 1}" for i in range(len(codes)))
    covariates = tuple(f"x{i + 1}" for i in range(n_cov))
    data = {name: rng.normal(size=n) for name in covariates}
    y = rng.normal(size=n) + sum((0.5 * data[c] for c in covariates), np.zeros(n))
    for name, code in zip(groups, codes, strict=True):
        sd = rng.uniform(0.0, 2.0)
        y = y + sd * rng.normal(size=int(code.max()) + 1)[code]
        data[name] = [f"{name}_{c}" for c in code]
    frame = pd.DataFrame({"y": y + 1.0, **data})
    fixed = " + ".join(covariates) if covariates else "1"
    random = " + ".join(f"(1|{g})" for g in groups)
    return Problem(frame, f"y ~ {fixed} + {random}", covariates, groups)


#: Found by hypothesis: the ML deviance is 16.87864 at theta = 0 (a stationary
#: point, the criterion being even in theta) but 16.71163 at theta = 0.50192.
THETA_ZERO_SADDLE = Problem(
    data=pd.DataFrame(
        {
            "y": [
                -0.250099,
                0.190240,
                0.264593,
                -0.270929,
                -0.911499,
                -0.014234,
                1.626345,
                0.571251,
            ],
            "g1": ["g1_0", "g1_1", "g1_0", "g1_0", "g1_0", "g1_0", "g1_1", "g1_0"],
        }
    ),
    formula="y ~ 1 + (1|g1)",
    covariates=(),
    groups=("g1",),
)

thetas = st.one_of(st.just(0.0), st.floats(1e-3, 3.0), st.floats(0.0, 1e-2))


# ---------------------------------------------------------------------------
# Dense brute-force reference
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dense:
    """Dense quantities of a problem at one ``theta``.

    Attributes
    ----------
    X : numpy.ndarray
        Fixed-effects design (intercept first, then the covariates).
    Z : numpy.ndarray
        Indicator matrix ``[Z_g1 Z_g2]`` (n x q), columns in ``levels`` order.
    levels : tuple of tuple of str
        For each grouping column (formula order), its sorted level labels.
    lam : numpy.ndarray
        Diagonal of ``Lambda`` (length q).
    V0 : numpy.ndarray
        ``I + Z Lambda Lambda' Z'``.
    beta : numpy.ndarray
        GLS estimate ``(X' V0^-1 X)^-1 X' V0^-1 y``.
    pwrss : float
        ``(y - X beta)' V0^-1 (y - X beta)``.
    xtvx : numpy.ndarray
        ``X' V0^-1 X``.
    y : numpy.ndarray
        The response.
    """

    X: np.ndarray
    Z: np.ndarray
    levels: tuple[tuple[str, ...], ...]
    lam: np.ndarray
    V0: np.ndarray
    beta: np.ndarray
    pwrss: float
    xtvx: np.ndarray
    y: np.ndarray

    @property
    def nobs(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_fixed(self) -> int:
        """Number of fixed-effect columns."""
        return int(self.X.shape[1])

    def sigma2(self, reml: bool) -> float:
        """Profiled residual variance ``r / (n - p)`` (REML) or ``r / n`` (ML)."""
        dof = self.nobs - self.n_fixed if reml else self.nobs
        return self.pwrss / dof

    def criterion(self, reml: bool) -> float:
        """REML criterion or ML deviance from the dense marginal likelihood.

        Parameters
        ----------
        reml : bool
            REML criterion if true, else the deviance ``-2 log L``.

        Returns
        -------
        float
            ``dof log(2 pi s2) + log|V0| + r / s2 (+ log|X' V0^-1 X|)`` at the
            profiled ``s2 = r / dof``, i.e. ``dof (1 + log(2 pi r / dof)) + ...``.
        """
        dof = self.nobs - self.n_fixed if reml else self.nobs
        s2 = self.pwrss / dof
        sign, log_det_v = np.linalg.slogdet(self.V0)
        assert sign > 0
        value = dof * (_LOG_2PI + np.log(s2)) + log_det_v + self.pwrss / s2
        if reml:
            sign_x, log_det_x = np.linalg.slogdet(self.xtvx)
            assert sign_x > 0
            value += log_det_x
        return float(value)

    def blups(self) -> np.ndarray:
        """Conditional modes ``Lambda Lambda' Z' V0^-1 (y - X beta)`` (length q)."""
        resid = self.y - self.X @ self.beta
        return self.lam**2 * (self.Z.T @ np.linalg.solve(self.V0, resid))

    def condvar(self, reml: bool) -> np.ndarray:
        """Diagonal of ``s2 Lambda (Lambda' Z' Z Lambda + I)^-1 Lambda'``."""
        q = self.Z.shape[1]
        scaled = self.Z * self.lam[None, :]
        inner = np.linalg.inv(scaled.T @ scaled + np.eye(q))
        return self.sigma2(reml) * self.lam**2 * np.diag(inner)

    def vcov(self, reml: bool) -> np.ndarray:
        """``s2 (X' V0^-1 X)^-1``."""
        return self.sigma2(reml) * np.linalg.inv(self.xtvx)


def dense_design(problem: Problem) -> tuple[np.ndarray, np.ndarray, tuple[tuple[str, ...], ...]]:
    """Build ``X`` and ``Z`` directly from the DataFrame.

    Parameters
    ----------
    problem : Problem
        The problem.

    Returns
    -------
    X : numpy.ndarray
        ``[1, x1, x2...]``.
    Z : numpy.ndarray
        Indicators of the grouping columns, in formula order, levels sorted.
    levels : tuple of tuple of str
        Sorted level labels of each grouping column.
    """
    data = problem.data
    n = len(data)
    X = np.column_stack([np.ones(n)] + [data[c].to_numpy(float) for c in problem.covariates])
    blocks = []
    levels = []
    for g in problem.groups:
        labels = sorted(set(data[g]))
        column = data[g].to_numpy()
        blocks.append(np.array([[float(v == lab) for lab in labels] for v in column]))
        levels.append(tuple(labels))
    return X, np.hstack(blocks), tuple(levels)


def dense_at(problem: Problem, theta: dict[str, float]) -> Dense:
    """Dense GLS quantities at ``theta``.

    Parameters
    ----------
    problem : Problem
        The problem.
    theta : dict of str to float
        Relative standard deviation ``sigma_g / sigma`` of each grouping column.

    Returns
    -------
    Dense
    """
    X, Z, levels = dense_design(problem)
    y = problem.data["y"].to_numpy(float)
    lam = np.concatenate(
        [np.full(len(lv), theta[g]) for g, lv in zip(problem.groups, levels, strict=True)]
    )
    V0 = np.eye(len(y)) + (Z * lam**2) @ Z.T
    V0_inv_X = np.linalg.solve(V0, X)
    xtvx = X.T @ V0_inv_X
    beta = np.linalg.solve(xtvx, V0_inv_X.T @ y)
    resid = y - X @ beta
    pwrss = float(resid @ np.linalg.solve(V0, resid))
    return Dense(X, Z, levels, lam, V0, beta, pwrss, xtvx, y)


def split_by_group(problem: Problem, dense: Dense, values: np.ndarray) -> dict[str, pd.Series]:
    """Split a length-q vector into one Series per grouping column, indexed by level.

    Parameters
    ----------
    problem : Problem
        The problem.
    dense : Dense
        Gives the level labels and their order.
    values : numpy.ndarray
        One value per column of ``Z``.

    Returns
    -------
    dict of str to pandas.Series
    """
    out = {}
    start = 0
    for g, levels in zip(problem.groups, dense.levels, strict=True):
        out[g] = pd.Series(values[start : start + len(levels)], index=list(levels))
        start += len(levels)
    return out


# ---------------------------------------------------------------------------
# 1. The profiled criterion
# ---------------------------------------------------------------------------


@_SETTINGS
@given(
    problem=problems(),
    theta_values=st.lists(thetas, min_size=2, max_size=2),
    reml=st.booleans(),
)
def test_profiled_deviance_matches_dense_likelihood(
    problem: Problem, theta_values: list[float], reml: bool
) -> None:
    """``profiled_deviance`` equals the dense REML criterion / ML deviance."""
    theta = dict(zip(problem.groups, theta_values, strict=False))
    spec = build_spec(problem.formula, problem.data)
    assert sorted(f.name for f in spec.factors) == sorted(problem.groups)
    spec_theta = np.array([theta[f.name] for f in spec.factors])
    cp = cross_products(spec)
    got = profiled_deviance(cp, factor_at(cp, spec, spec_theta), reml)
    expected = dense_at(problem, theta).criterion(reml)
    assert got == pytest.approx(expected, rel=_CRITERION_RTOL, abs=0.0)


# ---------------------------------------------------------------------------
# 2. The fit
# ---------------------------------------------------------------------------


def _fit(problem: Problem, reml: bool) -> RemlFit:
    """Fit the problem with ``bayeshier.fit_reml`` (REML if ``reml``, else ML)."""
    return fit_reml(problem.formula, problem.data, reml=reml)


def _fitted_theta(fit: RemlFit) -> dict[str, float]:
    """``fit.theta`` as a mapping from factor name to value (spec order undone)."""
    names = [f.name for f in fit.spec.factors]
    theta = np.asarray(fit.theta, dtype=float)
    assert theta.shape == (len(names),)
    return dict(zip(names, theta.tolist(), strict=True))


@_SETTINGS
@given(problem=problems(), reml=st.booleans())
@example(problem=THETA_ZERO_SADDLE, reml=False)
def test_fit_is_a_local_minimum_of_the_dense_criterion(problem: Problem, reml: bool) -> None:
    """At ``fit.theta`` the dense criterion is not beaten by ``theta +- 1e-3`` per coordinate."""
    fit = _fit(problem, reml)
    theta = _fitted_theta(fit)
    assert all(v >= 0.0 for v in theta.values())
    best = dense_at(problem, theta).criterion(reml)
    assert fit.criterion == pytest.approx(best, rel=_RTOL, abs=_ATOL)
    assert fit.loglik == pytest.approx(-0.5 * best, rel=_RTOL, abs=_ATOL)
    for name in problem.groups:
        for step in (-_STEP, _STEP):
            moved = dict(theta)
            moved[name] = max(theta[name] + step, 0.0)
            if moved[name] == theta[name]:
                continue
            other = dense_at(problem, moved).criterion(reml)
            assert best <= other + _SLACK, (name, step, best, other)


@_SETTINGS
@given(problem=problems(), reml=st.booleans())
def test_fit_estimates_match_dense_gls_at_fitted_theta(problem: Problem, reml: bool) -> None:
    """fixef, sigma, vcov, se, ranef and condvar equal the dense formulas at ``fit.theta``."""
    fit = _fit(problem, reml)
    dense = dense_at(problem, _fitted_theta(fit))
    names = ["Intercept", *problem.covariates]
    assert fit.nobs == dense.nobs

    np.testing.assert_allclose(fit.fixef[names].to_numpy(), dense.beta, rtol=_RTOL, atol=_ATOL)
    assert fit.sigma == pytest.approx(np.sqrt(dense.sigma2(reml)), rel=_RTOL, abs=_ATOL)
    vcov = dense.vcov(reml)
    np.testing.assert_allclose(fit.vcov.loc[names, names].to_numpy(), vcov, rtol=_RTOL, atol=_ATOL)
    np.testing.assert_allclose(
        fit.se[names].to_numpy(), np.sqrt(np.diag(vcov)), rtol=_RTOL, atol=_ATOL
    )

    blups = split_by_group(problem, dense, dense.blups())
    condvar = split_by_group(problem, dense, dense.condvar(reml))
    assert set(fit.ranef) == set(problem.groups)
    assert set(fit.condvar) == set(problem.groups)
    for g in problem.groups:
        levels = list(blups[g].index)
        assert sorted(map(str, fit.ranef[g].index)) == levels
        np.testing.assert_allclose(
            fit.ranef[g].loc[levels, "Intercept"].to_numpy(),
            blups[g].to_numpy(),
            rtol=_RTOL,
            atol=_ATOL,
            err_msg=f"ranef of {g}",
        )
        np.testing.assert_allclose(
            fit.condvar[g].loc[levels, "Intercept"].to_numpy(),
            condvar[g].to_numpy(),
            rtol=_RTOL,
            atol=_ATOL,
            err_msg=f"condvar of {g}",
        )


# ---------------------------------------------------------------------------
# 3. The edges: (near-)zero residual variance, extreme variance ratios
# ---------------------------------------------------------------------------
#
# With a group sd ``c`` times the residual sd, ``V0 = I + theta^2 Z Z'`` has
# eigenvalues up to ``c^2 n``: the dense reference above loses ``eps c^2 n``
# of its accuracy, as the solver does. The reference here stays exact: the
# penalized least squares ``min ||y - X beta - Z b||^2 + ||b||^2 / theta^2``
# is solved by a QR of the augmented matrix ``[[Z, X], [I / theta, 0]]``,
# whose entries are all of size 1, and ``log|V0| = 2 q log theta + log|R_ZZ|^2``,
# ``log|X' V0^-1 X| = log|R_XX|^2`` from its triangular factor.

#: Below this theta (group sd / residual sd) the fit must be the exact optimum, silently.
_RESOLVED_THETA = 1e3
_EDGE_RTOL = 1e-5
#: A fit that warns (PrecisionWarning) keeps its residual sd within this share.
_WARNED_SIGMA_RTOL = 0.05
#: The solver refuses a saturated residual below 1e-13 of OLS's; the reference allows rounding.
_REFUSED_SHARE = 1e-12


def stable_criterion(X: np.ndarray, Z: np.ndarray, y: np.ndarray, theta: float, reml: bool):
    """REML criterion (or ML deviance) and sigma of one random-intercept factor, exactly.

    Returns
    -------
    tuple of float
        ``(criterion, sigma)`` at the profiled residual variance.
    """
    (n, p), q = X.shape, Z.shape[1]
    A = np.block([[Z, X], [np.eye(q) / theta, np.zeros((q, p))]])
    b = np.concatenate([y, np.zeros(q)])
    coefficients, *_ = np.linalg.lstsq(A, b, rcond=None)
    residual = b - A @ coefficients
    pwrss = float(residual @ residual)
    diagonal = np.abs(np.diag(np.linalg.qr(A, mode="r")))
    dof = n - p if reml else n
    value = dof * (1.0 + _LOG_2PI + np.log(pwrss / dof))
    value += 2.0 * q * np.log(theta) + 2.0 * np.sum(np.log(diagonal[:q]))
    if reml:
        value += 2.0 * np.sum(np.log(diagonal[q:]))
    return float(value), float(np.sqrt(pwrss / dof))


def stable_optimum(X: np.ndarray, Z: np.ndarray, y: np.ndarray, guess: float, reml: bool):
    """``(theta, criterion, sigma)`` at the optimum: grid over 8 decades, then bounded search."""
    grid = guess * np.logspace(-4.0, 4.0, 161)
    values = [stable_criterion(X, Z, y, theta, reml)[0] for theta in grid]
    best = int(np.argmin(values))
    assert 0 < best < grid.size - 1, "the optimum is outside the grid"
    result = minimize_scalar(
        lambda log_theta: stable_criterion(X, Z, y, float(np.exp(log_theta)), reml)[0],
        bounds=(np.log(grid[best - 1]), np.log(grid[best + 1])),
        method="bounded",
        options={"xatol": 1e-12},
    )
    theta = float(np.exp(result.x))
    return (theta, *stable_criterion(X, Z, y, theta, reml))


@_SETTINGS
@given(problem=problems(), theta=st.floats(1e-2, 3.0), reml=st.booleans())
def test_stable_reference_is_the_dense_likelihood(problem: Problem, theta: float, reml: bool):
    """Where the dense computation is exact, the stable reference agrees with it."""
    if len(problem.groups) != 1:
        return
    dense = dense_at(problem, {problem.groups[0]: theta})
    criterion, sigma = stable_criterion(dense.X, dense.Z, dense.y, theta, reml)
    assert criterion == pytest.approx(dense.criterion(reml), rel=_CRITERION_RTOL)
    assert sigma == pytest.approx(np.sqrt(dense.sigma2(reml)), rel=_CRITERION_RTOL)


@st.composite
def edge_problems(draw: st.DrawFn) -> tuple[Problem, float]:
    """A random-intercept problem whose residual sd is ``10^-log_ratio`` of its group sd.

    ``log_ratio`` runs from 2 to 9, or is infinite: ``y`` is then exactly
    constant within every group (after the covariates). The whole response is
    scaled by 1e-3, 1 or 1e3. Returns the problem and the nominal ratio.
    """
    n_cov = draw(st.integers(0, 2), label="n_covariates")
    levels = draw(st.integers(3, 6), label="levels")
    n = draw(st.integers(max(12, 1 + n_cov + levels + _MIN_RESIDUAL_DOF), 40), label="n")
    log_ratio = draw(st.one_of(st.floats(2.0, 9.0), st.just(np.inf)), label="log_ratio")
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]), label="scale")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    codes = _cover_levels(list(rng.integers(0, levels, n)), levels)
    data = {f"x{i + 1}": rng.normal(size=n) for i in range(n_cov)}
    within = 10.0**-log_ratio * rng.normal(size=n)
    y = 1.0 + sum(data.values(), np.zeros(n)) + rng.normal(size=levels)[codes] + within
    frame = pd.DataFrame({"y": scale * y, **data, "g1": [f"g1_{c}" for c in codes]})
    fixed = " + ".join(data) if data else "1"
    return Problem(frame, f"y ~ {fixed} + (1|g1)", tuple(data), ("g1",)), 10.0**log_ratio


def _saturated_share(X: np.ndarray, Z: np.ndarray, y: np.ndarray) -> float:
    """Residual sum of squares on ``[X Z]`` over that on ``X``, by dense least squares."""
    full = np.column_stack([X, Z])
    rest = y - full @ np.linalg.lstsq(full, y, rcond=None)[0]
    ols = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return float(rest @ rest / (ols @ ols))


@_SETTINGS
@given(edge=edge_problems(), reml=st.booleans())
def test_edges_reach_the_exact_optimum_or_say_why(edge: tuple[Problem, float], reml: bool):
    """Exact and silent up to theta 1e3; beyond, exact or a PrecisionWarning; refused only at 0.

    The reference is :func:`stable_optimum`. A ``ModelError`` (zero or
    unresolvable residual variance) is allowed only when dense least squares
    confirm that ``[X Z]`` reproduces ``y`` to 1e-12 of the OLS residual.
    """
    problem, ratio = edge
    X, Z, _ = dense_design(problem)
    y = problem.data["y"].to_numpy(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = _fit(problem, reml)
        except ModelError as error:
            assert "residual variance is zero" in str(error)
            assert _saturated_share(X, Z, y) < _REFUSED_SHARE, ratio
            return
    theta, criterion, sigma = stable_optimum(X, Z, y, min(ratio, 1e9), reml)
    warned = any(issubclass(w.category, PrecisionWarning) for w in caught)
    exact = np.isclose(fit.theta[0], theta, rtol=_EDGE_RTOL) and np.isclose(
        fit.sigma, sigma, rtol=_EDGE_RTOL
    )
    assert exact or warned, (fit.theta[0], theta, fit.sigma, sigma)
    if warned:
        assert fit.sigma == pytest.approx(sigma, rel=_WARNED_SIGMA_RTOL)
    if theta < _RESOLVED_THETA:
        assert exact and not caught, [str(w.message) for w in caught]
        assert fit.criterion == pytest.approx(criterion, rel=_CRITERION_RTOL)


def test_constant_within_groups_is_refused_where_it_used_to_converge_wrongly():
    """The issue's case: y constant within groups gave sd_g 3.46 (truth 11.03), 'converged'."""
    rng = np.random.default_rng(13)
    codes = np.repeat(np.arange(8), 6)
    frame = pd.DataFrame({"y": 50.0 + 11.0 * rng.normal(size=8)[codes], "g": codes.astype(str)})
    with pytest.raises(ModelError, match=r"residual variance is zero.*'g'"):
        fit_reml("y ~ 1 + (1|g)", frame)
