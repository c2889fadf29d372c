"""The public face of ``bayeshier``: names, lazy imports, and what ``dir()`` shows."""

from __future__ import annotations

import importlib
import types

import bayeshier

PUBLIC = (
    "fit_reml",
    "Model",
    "compare",
    "shrinkage",
    "plots",
    "diagnose",
    "datasets",
    "RemlFit",
    "Comparison",
    "BayeshierError",
    "DataError",
    "FormulaError",
    "ModelError",
)


def test_dir_lists_the_names_imported_on_first_use():
    listed = dir(bayeshier)
    for name in ("Model", "diagnose", "plots"):
        assert name in listed


def test_every_public_name_resolves_and_is_in_all():
    for name in PUBLIC:
        assert name in bayeshier.__all__
        assert getattr(bayeshier, name) is not None


def test_shrinkage_and_plots_remain_modules():
    assert isinstance(importlib.import_module("bayeshier.shrinkage"), types.ModuleType)
    assert isinstance(bayeshier.plots, types.ModuleType)
    assert bayeshier.shrinkage.factors is bayeshier.shrinkage.level_weights


def test_lazy_names_are_the_engine_objects():
    from bayeshier.bayes.diagnostics import diagnose
    from bayeshier.bayes.model import Model

    assert bayeshier.Model is Model
    assert bayeshier.diagnose is diagnose
