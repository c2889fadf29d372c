"""bayeshier: Bayesian hierarchical regression, side by side with REML/BLUP.

Main entry points: :func:`fit_reml` (the embedded REML/ML solver),
:func:`fit_glmm` (its generalized twin, as lme4's ``glmer``), :func:`anova`,
:class:`Model` (the PyMC twin), :func:`compare` (the side-by-side table),
:mod:`bayeshier.shrinkage` and :mod:`bayeshier.plots`. ``Model``,
``diagnose`` and ``plots`` are imported on first use, so that importing
bayeshier (on the client, or on every Dask worker of a distributed REML fit)
loads neither PyMC nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

from bayeshier import datasets, shrinkage
from bayeshier.errors import (
    BayeshierError,
    DataError,
    FormulaError,
    ModelError,
    SamplingWarning,
)
from bayeshier.present.comparison import Comparison, compare
from bayeshier.reml import RemlFit, anova, fit_reml
from bayeshier.reml.glmm import GlmmFit, fit_glmm
from bayeshier.spec.model_spec import ModelSpec, build_spec

__all__ = [
    "BayeshierError",
    "Comparison",
    "DataError",
    "FormulaError",
    "GlmmFit",
    "Model",
    "ModelError",
    "ModelSpec",
    "RemlFit",
    "SamplingWarning",
    "anova",
    "build_spec",
    "compare",
    "datasets",
    "diagnose",
    "fit_glmm",
    "fit_reml",
    "plots",
    "shrinkage",
]
__version__ = "0.1.0"

_LAZY_MODULES = {"plots"}
#: Attributes imported on first use: name -> module holding it.
_LAZY_ATTRIBUTES = {"Model": "bayeshier.bayes.model", "diagnose": "bayeshier.bayes.diagnostics"}


def __dir__() -> list[str]:
    """Every public name, the ones imported on first use included (for tab completion)."""
    return sorted({*globals(), *__all__, *_LAZY_MODULES, *_LAZY_ATTRIBUTES})


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"bayeshier.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'bayeshier' has no attribute {name!r}")
