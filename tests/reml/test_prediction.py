"""predict(..., interval=): exact prediction error variances and their coverage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg as sla
from reference_cases import FIXTURES

from bayeshier import ModelError, datasets, fit_reml
from bayeshier.reml import UnseenLevelsWarning
from bayeshier.reml.prediction import prediction_variance

Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def sleep_fit():
    return fit_reml("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def penicillin_fit():
    return fit_reml("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))


def dense_error_variance(fit, newdata: pd.DataFrame) -> np.ndarray:
    """``sigma^2 c' C^-1 c`` from the dense (weighted) mixed-model equations (the definition)."""
    spec = fit.spec
    relative = fit.layout.relative_factors(fit.theta)
    lam = sla.block_diag(
        *[np.kron(np.eye(f.n_levels), T) for f, T in zip(spec.factors, relative, strict=True)]
    )
    root = np.ones(spec.nobs) if spec.weights is None else np.sqrt(spec.weights)
    Z = np.hstack([_dense_z(f, f.codes, f.columns()) for f in spec.factors]) @ lam * root[:, None]
    X = spec.X * root[:, None]
    C = np.block([[Z.T @ Z + np.eye(Z.shape[1]), Z.T @ X], [X.T @ Z, X.T @ X]])
    new_z = [_dense_z(f, f.codes_for(newdata), f.design_for(newdata)) for f in spec.factors]
    c = np.hstack([np.hstack(new_z) @ lam, spec.fixed_design(newdata)])
    return fit.sigma**2 * np.einsum("ij,ij->i", c, np.linalg.solve(C, c.T).T)


def _dense_z(factor, codes: np.ndarray, design: np.ndarray) -> np.ndarray:
    k = factor.n_columns
    Z = np.zeros((len(codes), factor.n_levels * k))
    seen = np.flatnonzero(codes >= 0)
    for r in range(k):
        Z[seen, codes[seen] * k + r] = design[seen, r]
    return Z


@pytest.fixture(scope="module")
def weighted_data() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "rform_sleep_weights.csv", dtype={"Subject": str})


@pytest.fixture(scope="module")
def weighted_fit(weighted_data: pd.DataFrame):
    return fit_reml("Reaction ~ Days + (Days|Subject)", weighted_data, weights="w")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("sleep_fit", "sleepstudy"),
        ("penicillin_fit", "penicillin"),
        ("weighted_fit", "weighted_data"),
    ],
)
def test_error_variance_is_the_exact_one(
    name: str, data: str, request: pytest.FixtureRequest
) -> None:
    fit = request.getfixturevalue(name)
    if data == "weighted_data":
        data = request.getfixturevalue(data)
    else:
        data = datasets.load(data)
    newdata = data.sample(25, random_state=4)
    ours = prediction_variance(fit, newdata, include_random=True, new_observation=False)
    np.testing.assert_allclose(ours, dense_error_variance(fit, newdata), rtol=1e-9)


def test_without_interval_the_series_is_unchanged(sleep_fit) -> None:
    newdata = datasets.load("sleepstudy").head(5)
    plain = sleep_fit.predict(newdata)
    assert isinstance(plain, pd.Series)
    table = sleep_fit.predict(newdata, interval="confidence")
    assert list(table.columns) == ["fit", "lower", "upper"]
    np.testing.assert_array_equal(table["fit"], plain)
    assert table.index.equals(newdata.index)
    assert table.attrs == {"interval": "confidence", "level": 0.95}


def test_prediction_adds_sigma_squared(sleep_fit) -> None:
    newdata = datasets.load("sleepstudy").iloc[::20]
    confidence = sleep_fit.predict(newdata, interval="confidence")
    prediction = sleep_fit.predict(newdata, interval="prediction", level=0.9)
    sd_conf = (confidence["upper"] - confidence["fit"]) / Z95
    sd_pred = (prediction["upper"] - prediction["fit"]) / 1.6448536269514722
    np.testing.assert_allclose(sd_pred**2, sd_conf**2 + sleep_fit.sigma**2, rtol=1e-10)
    np.testing.assert_allclose(
        prediction["fit"] - prediction["lower"], prediction["upper"] - prediction["fit"]
    )


def test_population_confidence_interval_uses_vcov(sleep_fit) -> None:
    newdata = datasets.load("sleepstudy").head(10)
    table = sleep_fit.predict(newdata, include_random=False, interval="confidence")
    X = sleep_fit.spec.fixed_design(newdata)
    sd = np.sqrt(np.einsum("ij,jk,ik->i", X, sleep_fit.vcov.to_numpy(), X))
    np.testing.assert_allclose((table["upper"] - table["fit"]) / Z95, sd, rtol=1e-10)
    marginal = sleep_fit.predict(newdata, include_random=False, interval="prediction")
    group = np.einsum("ij,jk,ik->i", X, sleep_fit.covariances["Subject"].to_numpy(), X)
    expected = sd**2 + group + sleep_fit.sigma**2
    np.testing.assert_allclose(((marginal["upper"] - marginal["fit"]) / Z95) ** 2, expected)


def test_unseen_level_gets_the_group_variance(sleep_fit) -> None:
    newdata = datasets.load("sleepstudy").head(3).astype({"Subject": str})
    newdata["Subject"] = "new subject"
    with pytest.warns(UnseenLevelsWarning, match="3 of 3 rows"):
        table = sleep_fit.predict(newdata, interval="confidence")
    X = sleep_fit.spec.fixed_design(newdata)
    fixed = np.einsum("ij,jk,ik->i", X, sleep_fit.vcov.to_numpy(), X)
    group = np.einsum("ij,jk,ik->i", X, sleep_fit.covariances["Subject"].to_numpy(), X)
    np.testing.assert_allclose(((table["upper"] - table["fit"]) / Z95) ** 2, fixed + group)
    np.testing.assert_allclose(table["fit"], X @ sleep_fit.fixef.to_numpy())


def test_bad_interval_and_level(sleep_fit) -> None:
    newdata = datasets.load("sleepstudy").head(2)
    with pytest.raises(ModelError, match="interval must be None, 'confidence' or 'prediction'"):
        sleep_fit.predict(newdata, interval="credible")
    with pytest.raises(ModelError, match="level must be between 0 and 1"):
        sleep_fit.predict(newdata, interval="prediction", level=1.5)


# --- coverage by simulation ------------------------------------------------------------

GROUPS, ROWS, NEW_ROWS, REPLICATES = 25, 8, 4, 200
BETA, SD_EFFECTS, SIGMA = np.array([1.0, 0.5]), np.array([1.0, 0.4]), 1.0


def _rows(rng: np.random.Generator, per_group: int) -> pd.DataFrame:
    groups = np.repeat(np.arange(GROUPS), per_group)
    return pd.DataFrame(
        {"g": [f"g{j:02d}" for j in groups], "x": rng.uniform(0, 4, groups.size), "code": groups}
    )


def _mean(frame: pd.DataFrame, effects: np.ndarray) -> np.ndarray:
    b = effects[frame["code"].to_numpy()]
    return BETA[0] + b[:, 0] + (BETA[1] + b[:, 1]) * frame["x"].to_numpy()


@pytest.fixture(scope="module")
def coverage() -> dict[str, float]:
    """Share of new rows of seen groups inside their 95% intervals, over many simulated data sets.

    The data come from y = 1 + 0.5 x + b0_g + b1_g x + e with independent
    b0 ~ N(0, 1), b1 ~ N(0, 0.4^2), e ~ N(0, 1); 25 groups of 8 rows are
    fitted with (x|g), and 4 new rows per group are predicted.
    """
    rng = np.random.default_rng(20240601)
    hits = {"prediction": 0, "confidence": 0}
    total = 0
    for _ in range(REPLICATES):
        train, new = _rows(rng, ROWS), _rows(rng, NEW_ROWS)
        effects = rng.standard_normal((GROUPS, 2)) * SD_EFFECTS
        train["y"] = _mean(train, effects) + SIGMA * rng.standard_normal(len(train))
        conditional_mean = _mean(new, effects)
        observed = conditional_mean + SIGMA * rng.standard_normal(len(new))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an occasional singular fit is part of the game
            fit = fit_reml("y ~ x + (x|g)", train)
        for kind, target in (("prediction", observed), ("confidence", conditional_mean)):
            table = fit.predict(new, interval=kind)
            hits[kind] += int(np.sum((table["lower"] <= target) & (target <= table["upper"])))
        total += len(new)
    return {kind: count / total for kind, count in hits.items()}


def test_prediction_interval_coverage_is_nominal(coverage: dict[str, float]) -> None:
    print(f"coverage of 95% intervals: {coverage}")
    assert 0.93 <= coverage["prediction"] <= 0.97, coverage


def test_confidence_interval_coverage_is_near_nominal(coverage: dict[str, float]) -> None:
    """Slightly low: the uncertainty of the estimated variances is ignored."""
    assert 0.90 <= coverage["confidence"] <= 0.97, coverage
