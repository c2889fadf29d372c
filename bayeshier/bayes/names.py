"""Names and dimensions shared by the PyMC graph and the DataTree it samples into.

The user-facing names (``beta``, ``sigma``, ``sd_<factor>``, ``<factor>``
with dimension ``<factor>_level``, the observed variable with dimension
``obs``) and the internal ones (a leading underscore, dropped from the
returned posterior) are spelled here once, so that the graph builder, the
sampling plan and the post-processing agree on them.

A factor with random slopes adds the dimension ``<factor>_term`` (its
random-effect columns, e.g. ``Intercept``, ``Days``): ``<factor>`` has dims
(``<factor>_level``, ``<factor>_term``) and ``sd_<factor>`` has dim
``<factor>_term``; a factor with correlated terms has ``corr_<factor>``, the
correlation matrix, with dims (``<factor>_term``, ``<factor>_term_bis``).
"""

from __future__ import annotations

from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "FIXED_RV",
    "check_factor_names",
    "corr_chol_name",
    "corr_name",
    "effect_dims",
    "has_correlation",
    "level_dim",
    "means_name",
    "model_coords",
    "noncentered_name",
    "obs_labels",
    "observed_name",
    "sd_component_name",
    "term_bis_dim",
    "term_dim",
]

#: The internal variable holding the coefficients of the centered design.
FIXED_RV = "_fixed"


def level_dim(factor_name: str) -> str:
    """Name of the dimension holding the levels of ``factor_name``."""
    return f"{factor_name}_level"


def term_dim(factor_name: str) -> str:
    """Name of the dimension holding the random-effect terms of a factor with slopes."""
    return f"{factor_name}_term"


def term_bis_dim(factor_name: str) -> str:
    """Second term dimension of the correlation matrix ``corr_<factor>``."""
    return f"{factor_name}_term_bis"


def effect_dims(factor: GroupingFactor) -> tuple[str, ...]:
    """Dims of the group effects: (level,) for a random intercept, else (level, term)."""
    if factor.intercept_only:
        return (level_dim(factor.name),)
    return (level_dim(factor.name), term_dim(factor.name))


def has_correlation(factor: GroupingFactor) -> bool:
    """Whether the factor has correlated terms (a covariance block of size > 1)."""
    return any(size > 1 for size in factor.blocks)


def corr_name(factor_name: str) -> str:
    """The correlation matrix of a factor's correlated terms (``corr_Subject``)."""
    return f"corr_{factor_name}"


def corr_chol_name(factor_name: str, block: int) -> str:
    """The internal LKJ Cholesky factor of covariance block ``block`` of a factor."""
    return f"_{factor_name}_corr_chol{block}"


def sd_component_name(factor_name: str, column: int) -> str:
    """The internal scalar sd of column ``column`` of a factor with slopes."""
    return f"_sd_{factor_name}_{column}"


def noncentered_name(factor_name: str) -> str:
    """The standard-normal variable ``z`` of a non-centered factor (``b = sd * z``)."""
    return f"_{factor_name}_z"


def means_name(factor_name: str) -> str:
    """The group-means variable of the factor that absorbs the intercept."""
    return f"_{factor_name}_mean"


def observed_name(spec: ModelSpec) -> str:
    """Name of the observed variable (the response if it is a plain name, else ``"y"``)."""
    name = spec.response
    taken = {"beta", "sigma"} | {f.name for f in spec.factors}
    return name if name.isidentifier() and name not in taken else "y"


def obs_labels(spec: ModelSpec) -> list:
    """Coordinates of ``obs``: the data's row labels if unique, else 0..n-1."""
    index = spec.row_index
    return list(index) if index.is_unique else list(range(spec.nobs))


def model_coords(spec: ModelSpec) -> dict[str, list[str]]:
    """Named dimensions of the model and their coordinates (``obs`` only if the spec holds rows)."""
    coords: dict[str, list[str]] = {"fixed": list(spec.fixed_names)}
    for factor in spec.factors:
        coords[level_dim(factor.name)] = list(factor.levels)
        if not factor.intercept_only:
            coords[term_dim(factor.name)] = list(factor.terms)
        if has_correlation(factor):
            coords[term_bis_dim(factor.name)] = list(factor.terms)
    if spec.holds_rows:
        coords["obs"] = obs_labels(spec)
    return coords


def check_factor_names(spec: ModelSpec) -> None:
    """Reject a grouping factor whose name clashes with a parameter or dimension name.

    Raises
    ------
    ModelError
        The factor is named like a parameter (``beta``, ``sigma``), a
        dimension (``obs``, ``fixed``, ``chain``, ``draw``), an ``sd_*`` or
        ``corr_*`` term or an internal variable (leading underscore).

    """
    reserved = {"beta", "sigma", "obs", "fixed", "chain", "draw"}
    for factor in spec.factors:
        if factor.name in reserved or factor.name.startswith(("sd_", "corr_", "_")):
            raise ModelError(
                f"The grouping factor {factor.name!r} clashes with a name bayeshier uses for "
                f"its parameters ({', '.join(sorted(reserved))}, sd_*, corr_*): rename the "
                "column."
            )
