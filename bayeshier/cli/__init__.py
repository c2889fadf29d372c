"""Layer 5: the ``bayeshier`` command line, model files and the HTML report.

Nothing in the package imports this layer.
"""

from bayeshier.cli.main import main

__all__ = ["main"]
