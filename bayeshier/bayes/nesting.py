"""Which grouping factors are nested in which (``cask:batch`` in ``batch``).

A nested pair is collapsed together (:mod:`bayeshier.bayes.collapse`), and
the group means of a factor absorb the effects of the factors it is nested in
(:mod:`bayeshier.bayes.group_means`).
"""

from __future__ import annotations

import numpy as np

from bayeshier.spec.model_spec import ModelSpec

__all__ = ["nesting_parents"]


def nesting_parents(spec: ModelSpec, name: str) -> dict[str, np.ndarray]:
    """Factors that ``name`` is nested in, with the parent level of each of its levels.

    ``cask:batch`` is nested in ``batch``: every cask level lies in one batch.
    """
    child = spec.factor(name)
    cells = spec.level_combinations
    position = {factor.name: k for k, factor in enumerate(spec.factors)}
    parents = {}
    for other in spec.factors:
        if other.name == name:
            continue
        pairs = np.unique(cells[:, [position[name], position[other.name]]], axis=0)
        if len(pairs) == child.n_levels:
            codes = np.empty(child.n_levels, dtype=np.intp)
            codes[pairs[:, 0]] = pairs[:, 1]
            parents[other.name] = codes
    return parents
