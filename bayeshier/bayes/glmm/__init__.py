"""The Bayesian twin of a GLMM fit: Bernoulli, binomial and Poisson mixed models in PyMC.

The pipeline mirrors the Gaussian :class:`bayeshier.bayes.model.Model`::

    formula + data -> rows (reml.glmm.response) -> aggregated cells (aggregate)
        -> link-scale priors (priors) -> plan from the Laplace fit (plan, centering)
        -> PyMC graph (graph) -> nutpie -> DataTree (model.GlmmModel, posterior)
        -> memory budget, posterior predictive (predictive)

``bayeshier.Model(formula, data, family="binomial" | "poisson")`` returns a
:class:`GlmmModel`.
"""

from bayeshier.bayes.glmm.model import GlmmModel

__all__ = ["GlmmModel"]
