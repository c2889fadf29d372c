"""Layer 3: the Bayesian twin of a fit, in PyMC.

:class:`bayeshier.bayes.model.Model` reads a :class:`~bayeshier.spec.ModelSpec`
and the REML fit of it (which chooses parameterizations and starting points),
builds the PyMC graph and samples it. Nothing here plots. Importing this
package does not import PyMC; its modules do.
"""
