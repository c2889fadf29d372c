"""bayeshier.cli.model_run: one model built, fitted and (with its sampler replaced) reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synthetic import synthetic_posterior

from bayeshier import datasets
from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import model_run, modelfile
from bayeshier.errors import DataError, ModelError
from bayeshier.present.intervals import CredibleInterval

BINARY = Path(__file__).parents[1] / "fixtures" / "glmer" / "seed_binary.csv"


def _file(folder: Path, lines: str) -> modelfile.ModelFile:
    path = folder / "m.toml"
    path.write_text(f"[[model]]\nname = 'm'\n{lines}")
    return modelfile.load(path)


def test_the_family_picks_the_model_and_its_fit(tmp_path):
    pd.read_csv(BINARY).to_csv(tmp_path / "rows.csv", index=False)
    glmm_file = _file(
        tmp_path, "data = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\nfamily = 'binomial'\n"
    )
    prepared = model_run.prepare(glmm_file, glmm_file.models[0])
    assert isinstance(prepared.model, GlmmModel)
    assert prepared.model.family.link == "logit"
    assert list(prepared.timings) == ["Laplace fit"]
    gaussian_file = _file(tmp_path, "data = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n")
    prepared = model_run.prepare(gaussian_file, gaussian_file.models[0])
    assert isinstance(prepared.model, Model) and list(prepared.timings) == ["REML fit"]


def test_errors_of_a_glmm_name_the_file_and_the_model(tmp_path):
    rows = pd.DataFrame({"y": [0, 1, 2, 0, 1, 1], "g": list("aabbcc")})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    model_file = _file(
        tmp_path, "data = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\nfamily = 'binomial'\n"
    )
    with pytest.raises(DataError, match=r"m\.toml: model 'm': The binomial response 'y' must"):
        model_run.prepare(model_file, model_file.models[0])


def test_the_posterior_predictive_of_a_gaussian_model_and_why_not_for_a_glmm():
    model = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    tree = synthetic_posterior(model.reml)
    del tree["posterior_predictive"]
    table, missing = model_run._predictive(model, tree, 1, CredibleInterval(0.89, "eti"))
    assert missing == "" and "posterior_predictive" in tree.children
    assert tree["posterior_predictive"]["Yield"].sizes == {"chain": 2, "draw": 400, "obs": 30}
    assert table is not None and list(table["statistic"]) == ["mean", "sd", "min", "max"]
    assert table.loc[0, "observed"] == pytest.approx(1527.5)  # Dyestuff's mean yield
    glmm = GlmmModel("y ~ 1 + (1|g)", pd.read_csv(BINARY), "binomial")
    assert model_run._predictive(glmm, tree, 1, CredibleInterval(0.89, "eti")) == (
        None,
        model_run.GLMM_NO_PREDICTIVE,
    )


def test_replicates_that_cannot_be_drawn_leave_the_reason(monkeypatch):
    model = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    tree = synthetic_posterior(model.reml)

    def too_big(self, idata, random_seed=None):
        raise ModelError("the replicates would take 40 GiB.")

    monkeypatch.setattr(Model, "sample_posterior_predictive", too_big)
    table, missing = model_run._predictive(model, tree, 1, CredibleInterval(0.89, "eti"))
    assert table is None and missing == "the replicates would take 40 GiB"
