"""``bayeshier.Model(formula, data, family=...)``: the GLMM twin under the Model name."""

from __future__ import annotations

import inspect
from abc import ABCMeta

import pandas as pd

from bayeshier.bayes.glmm.model import GlmmModel
from bayeshier.errors import ModelError

__all__ = ["glmm_twin", "is_gaussian", "register_twin"]


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


def register_twin(model_class: ABCMeta) -> None:
    """Make :class:`GlmmModel` a virtual subclass of ``model_class`` (``bayeshier.Model``).

    ``isinstance(twin, Model)`` then holds, and ``help()`` and IDEs show
    ``Model.__init__``'s parameters, not ``__new__``'s (``*args, family, **options``).
    """
    model_class.register(GlmmModel)
    init = inspect.signature(model_class.__init__)  # type: ignore[misc]
    model_class.__signature__ = init.replace(parameters=list(init.parameters.values())[1:])
