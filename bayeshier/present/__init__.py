"""Layer 4: results side by side, the shrinkage maths and the plots.

Everything here takes results computed by the engines (a
:class:`~bayeshier.reml.RemlFit`, a posterior DataTree) and returns
DataFrames, text or figures. Nothing here fits or samples.
"""
