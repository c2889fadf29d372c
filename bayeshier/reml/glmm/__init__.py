"""The embedded GLMM solver: Laplace and adaptive Gauss-Hermite fits that match lme4's ``glmer``.

The pipeline, on the blocked machinery of the REML solver::

    formula -> response (cbind, offsets) -> spec -> search over (theta, beta)
            [ PIRLS (conditional modes) -> Laplace / AGQ deviance ] -> GlmmFit
"""

from bayeshier.reml.glmm.families import Family, make_family
from bayeshier.reml.glmm.fit import fit_glmm
from bayeshier.reml.glmm.response import looks_like_glmm_response
from bayeshier.reml.glmm.results import GlmmFit

__all__ = ["Family", "GlmmFit", "fit_glmm", "looks_like_glmm_response", "make_family"]
