"""The embedded REML/ML solver for linear mixed models (numpy/scipy, no R).

The pipeline is a chain of small pure steps, as in MixedModels.jl::

    spec -> cross_products -> optimize_theta(factorize -> profiled_deviance)
         -> estimates -> RemlFit
"""

from bayeshier.reml.anova import MLRefitWarning, anova
from bayeshier.reml.bootstrap import BootstrapWarning, parametric_bootstrap
from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.fit import fit_reml, fit_spec
from bayeshier.reml.optimize import OptimizationSummary
from bayeshier.reml.profile import Profile, ProfileWarning
from bayeshier.reml.results import RemlFit, SingularFitWarning, UnseenLevelsWarning

__all__ = [
    "BootstrapWarning",
    "CrossProducts",
    "MLRefitWarning",
    "OptimizationSummary",
    "Profile",
    "ProfileWarning",
    "RemlFit",
    "SingularFitWarning",
    "ThetaLayout",
    "UnseenLevelsWarning",
    "anova",
    "fit_reml",
    "fit_spec",
    "parametric_bootstrap",
]
