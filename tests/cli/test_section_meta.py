"""bayeshier.cli.section_meta: the key/value tables at the top of a model's report section."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import modelfile, section_meta

ENTRY = modelfile.ModelEntry(name="dye", data="dyestuff", formula="Yield ~ 1 + (1|Batch)")


@pytest.fixture(scope="module")
def full_model() -> Model:
    """Dyestuff, fitted by REML, to be sampled with the full likelihood (not sampled here)."""
    return Model(ENTRY.formula, datasets.load("dyestuff"), likelihood="full")


def test_model_meta_names_formula_data_rows_factors_and_the_fit(full_model):
    assert section_meta.model_meta(ENTRY, full_model) == {
        "formula": "Yield ~ 1 + (1|Batch)",
        "data": "dyestuff",
        "rows": "30",
        "grouping factors": "Batch (6 levels)",
        "REML fit": "REML criterion 319.6543, sigma 49.51",  # lme4: 319.7, 49.51
    }


def test_model_meta_says_rows_dropped_and_a_singular_fit():
    data = datasets.load("dyestuff2")
    data.loc[0, "Yield"] = np.nan
    meta = section_meta.model_meta(ENTRY, Model(ENTRY.formula, data))
    assert meta["rows"] == "29 (1 rows with missing values dropped)"
    assert meta["REML fit"].endswith("; singular fit (a group sd at 0)")


def test_settings_meta_lists_sampler_likelihood_times_and_the_posterior(full_model):
    settings = modelfile.SamplerSettings(seed=3)
    timings = {"REML fit": 0.01234, "sampling": 3.21}
    meta = section_meta.settings_meta(settings, full_model, "auto", timings, Path("out/dye"), True)
    accept = full_model.default_target_accept()
    assert meta["sampler"] == (
        f"nutpie, 4 chains x 1000 draws (1000 tuning), target_accept {accept:g}, seed 3"
    )
    assert meta["parameterization"].startswith("Batch: ")
    assert meta["likelihood"] == "full (asked: auto): every group effect sampled by NUTS"
    assert meta["time"] == "REML fit 0.0 s, sampling 3.2 s"
    assert meta["posterior"] == (
        "dye/posterior.zarr next to this report: "
        "xarray.open_datatree('dye/posterior.zarr', engine='zarr')"
    )


def test_settings_meta_without_a_saved_posterior(full_model):
    settings = modelfile.SamplerSettings(target_accept=0.9, sampler="pymc")
    meta = section_meta.settings_meta(settings, full_model, "full", {}, Path("dye"), False)
    assert "posterior" not in meta
    assert meta["sampler"].startswith("pymc, ") and "target_accept 0.9," in meta["sampler"]
    assert section_meta.likelihood_line(full_model, "full") == (
        "full: every group effect sampled by NUTS"
    )


# ------------------------------------------------------------------ GLMM
BINARY = Path(__file__).parents[1] / "fixtures" / "glmer" / "seed_binary.csv"
GLMM_ENTRY = modelfile.ModelEntry(
    name="seed_binary", data=str(BINARY), formula="y ~ 1 + (1|g)", family="binomial"
)


def test_a_glmm_shows_its_family_and_laplace_fit():
    model = GlmmModel(GLMM_ENTRY.formula, pd.read_csv(BINARY), "binomial")
    meta = section_meta.model_meta(GLMM_ENTRY, model)
    assert meta["family"] == "binomial (logit link)"
    assert "REML fit" not in meta
    # lme4 1.1-31 (shared/reference/seed_binary.json): logLik -63.6869156528109
    match = re.match(r"logLik (\S+), deviance", meta["Laplace fit"])
    assert match is not None
    assert float(match[1]) == pytest.approx(-63.6869156528109, abs=1e-3)
    assert section_meta.likelihood_line(model, "auto") == (
        "binomial (logit link): 100 rows aggregated into 5 cells of equal fixed-effect row and "
        "group levels (exact); every group effect sampled by NUTS"
    )
