"""The embedded REML/ML solver for linear mixed models (numpy/scipy, no R).

The pipeline is a chain of small pure steps, as in MixedModels.jl::

    spec -> cross_products -> optimize_theta(factorize -> profiled_deviance)
         -> estimates -> RemlFit
"""

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.fit import fit_reml, fit_spec
from bayeshier.reml.optimize import OptimizationSummary
from bayeshier.reml.results import RemlFit, UnseenLevelsWarning

__all__ = [
    "CrossProducts",
    "OptimizationSummary",
    "RemlFit",
    "ThetaLayout",
    "UnseenLevelsWarning",
    "fit_reml",
    "fit_spec",
]
