"""bayeshier: Bayesian hierarchical regression, side by side with REML/BLUP."""

from bayeshier import datasets
from bayeshier.errors import BayeshierError, DataError, FormulaError, ModelError
from bayeshier.reml import RemlFit, fit_reml
from bayeshier.spec import ModelSpec, build_spec

__all__ = [
    "BayeshierError",
    "DataError",
    "FormulaError",
    "ModelError",
    "ModelSpec",
    "RemlFit",
    "build_spec",
    "datasets",
    "fit_reml",
]
__version__ = "0.1.0"
