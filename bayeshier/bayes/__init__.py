"""Layer 3: the Bayesian twin of a fit, in PyMC.

:class:`bayeshier.bayes.model.Model` reads a :class:`~bayeshier.spec.ModelSpec`
and the REML fit of it (which chooses parameterizations and starting points),
builds the PyMC graph and samples it. Nothing here plots. Importing this
package does not import PyMC; its modules do.
"""

import warnings

# ``DataTree.to_zarr`` (zarr 3) warns once per group that consolidated metadata is
# not part of the Zarr 3 specification: an informational note about a format
# choice xarray makes, which buries the useful output of every save.
warnings.filterwarnings(
    "ignore", message="Consolidated metadata is currently not part in the Zarr format 3"
)
