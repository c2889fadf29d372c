"""``bayeshier.Model(formula, data, family=...)``: the GLMM twin under the Model name."""

from __future__ import annotations

import pandas as pd

from bayeshier.bayes.glmm.model import GlmmModel
from bayeshier.errors import ModelError

__all__ = ["glmm_twin", "is_gaussian"]


def is_gaussian(family: object) -> bool:
    """Whether ``Model(family=)`` asks for the Gaussian model (None or ``"gaussian"``)."""
    return family is None or (isinstance(family, str) and family.lower() == "gaussian")


def glmm_twin(formula: str, data: pd.DataFrame, family: object, **options: object) -> GlmmModel:
    """``bayeshier.Model(formula, data, family=...)`` for a binomial or Poisson family.

    ``options`` are :class:`GlmmModel`'s (``likelihood=`` takes ``"auto"``
    or ``"full"``, not the Gaussian model's ``"collapsed"``).

    Raises
    ------
    ModelError
        An unknown family or option, or a ``likelihood`` a GLMM does not take.

    """
    unknown = sorted(set(options) - _GLMM_OPTIONS)
    if unknown:
        raise ModelError(
            f"Model(family={family!r}) takes no {', '.join(unknown)}; its options are "
            f"{', '.join(sorted(_GLMM_OPTIONS))}."
        )
    return GlmmModel(formula, data, family, **options)  # type: ignore[arg-type]


_GLMM_OPTIONS = {
    "link",
    "weights",
    "offset",
    "priors",
    "parameterization",
    "fit",
    "nagq",
    "likelihood",
}
