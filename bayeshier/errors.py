"""Exceptions and warnings raised by bayeshier.

Every error names the column, term or value at fault and says what to do.
They all derive from :class:`BayeshierError`, itself a ``ValueError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BayeshierError",
    "ConvergenceWarning",
    "DataError",
    "FamilyWarning",
    "FormulaError",
    "ModelError",
    "ModelFileError",
    "PrecisionWarning",
    "RankDeficiencyWarning",
    "SamplingWarning",
    "close_matches_hint",
]


class BayeshierError(ValueError):
    """Base class of every error bayeshier raises on bad input."""


class FormulaError(BayeshierError):
    """The formula cannot be parsed or uses a term bayeshier does not support."""


class DataError(BayeshierError):
    """The data do not fit the formula (missing column, wrong type, bad values)."""


class ModelError(BayeshierError):
    """The model cannot be estimated from these data (e.g. no residual degrees of freedom)."""


class ModelFileError(ModelError):
    """A model file (TOML) breaks the schema: the message names the file and the key."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped without meeting its convergence criterion."""


class PrecisionWarning(ConvergenceWarning):
    """The criterion cannot be resolved in double precision (an extreme variance ratio)."""


class FamilyWarning(UserWarning):
    """The response looks binary or like counts, but a Gaussian model was asked for."""


class RankDeficiencyWarning(UserWarning):
    """Aliased fixed-effect columns were dropped, as lme4 does."""


class SamplingWarning(UserWarning):
    """A posterior sample failed a convergence check (see :func:`bayeshier.diagnose`)."""


def close_matches_hint(name: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'a', 'b'?"`` for close matches of ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""
