"""The choices a user can make, written once for the library, the model files and the CLI.

Each choice is a ``Literal`` type (for type checkers and signatures) and the
tuple of its values (for validation and ``--help``), derived from it with
:func:`typing.get_args` so that the two cannot drift apart.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "DENSITIES",
    "LIKELIHOODS",
    "ORDERS",
    "PARAMETERIZATIONS",
    "SAMPLERS",
    "Density",
    "Likelihood",
    "Order",
    "Parameterization",
    "Sampler",
]

#: The NUTS implementation that samples a :class:`bayeshier.Model`.
Sampler = Literal["nutpie", "pymc"]
#: How a grouping factor's effects are sampled.
Parameterization = Literal["auto", "centered", "noncentered"]
#: ``Model(likelihood=)``: integrate the largest factor's effects out ("collapsed") or not.
Likelihood = Literal["auto", "full", "collapsed"]
#: ``Model.build(density=)``: how the graph computes the log density of the data.
Density = Literal["pointwise", "sufficient", "collapsed"]
#: Order of the levels in comparison tables and reports.
Order = Literal["shrinkage", "size", "level"]

SAMPLERS: tuple[str, ...] = get_args(Sampler)
PARAMETERIZATIONS: tuple[str, ...] = get_args(Parameterization)
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
DENSITIES: tuple[str, ...] = get_args(Density)
ORDERS: tuple[str, ...] = get_args(Order)
