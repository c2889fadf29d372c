"""Checks of single values in a model file, each failing with the schema's one error message.

Every check takes the value, the model file's path and the key's dotted place
in the file (``model[0].sampler.draws``) and returns the value, typed; a value
that breaks the schema raises :class:`~bayeshier.errors.ModelFileError` from
:func:`schema_error`: ``<file>: key '<key>' <what is allowed>, got <value>.<hint>``.

The choices (sampler, parameterization, likelihood, order) are those of
:mod:`bayeshier._choices`, and come back typed as its ``Literal`` types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from bayeshier._choices import (
    LIKELIHOODS,
    ORDERS,
    PARAMETERIZATIONS,
    SAMPLERS,
    Likelihood,
    Order,
    Parameterization,
    Sampler,
)
from bayeshier.errors import ModelFileError, close_matches_hint
from bayeshier.present.intervals import CI_KINDS
from bayeshier.reml.glmm.families import FAMILIES

__all__ = [
    "FAMILY_CHOICES",
    "MODEL_NAME_RULE",
    "SAMPLER_RANGES",
    "choice",
    "family",
    "fraction",
    "integer",
    "interval",
    "likelihood",
    "model_name",
    "order",
    "parameterization",
    "parameterizations",
    "priors",
    "quoted",
    "sampler",
    "schema_error",
    "span",
    "string",
    "strings",
]

_MISSING = object()

#: The allowed range of each integer sampler setting (model-file keys and command-line flags).
#: draws and tune: a million steps per chain is far beyond any use (the bundled models take
#: 1,000) and keeps a chain's trace in memory (8 bytes x parameters x draws); chains: 64;
#: seed: a 32-bit unsigned integer, accepted by every seed bayeshier hands it to (nutpie's
#: u64, NumPy's SeedSequence, PyMC).
SAMPLER_RANGES: dict[str, tuple[int, int]] = {
    "draws": (1, 10**6),
    "tune": (0, 10**6),
    "chains": (1, 64),
    "seed": (0, 2**32 - 1),
}

#: The families a model file takes: ``"gaussian"`` (REML and :class:`bayeshier.Model`) and
#: those of :func:`bayeshier.fit_glmm` (with :class:`bayeshier.bayes.glmm.GlmmModel`).
FAMILY_CHOICES: tuple[str, ...] = ("gaussian", *FAMILIES)

#: What a model's name may be: it names the model's folder inside the output folder.
MODEL_NAME_RULE = (
    "must be a plain folder name: letters, digits, '_', '-' and '.', not starting with '.'"
)
_MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def schema_error(
    path: Path, key: str, what: str, value: Any = _MISSING, hint: str = ""
) -> ModelFileError:
    """``<file>: key '<key>' <what is allowed>, got <value>.<hint>``.

    Parameters
    ----------
    path : pathlib.Path
        The model file.
    key : str
        The key's dotted place in the file.
    what : str
        What is wrong, or what is allowed.
    value : optional
        The value found (its ``repr`` is shown); none when the key is missing.
    hint : str
        A sentence after the message (e.g. ``" Did you mean 'title'?"``).

    Returns
    -------
    ModelFileError
        To be raised by the caller.

    """
    got = "" if value is _MISSING else f", got {value!r}"
    return ModelFileError(f"{path}: key '{key}' {what}{got}.{hint}")


def string(
    table: Mapping[str, Any], key: str, path: Path, where: str, default: str | None = None
) -> str:
    """``table[key]``, a string; required and non-empty unless a ``default`` is given."""
    place = f"{where}.{key}" if where else key
    if key not in table:
        if default is None:
            raise schema_error(path, place, "is required (a string)")
        return default
    value = table[key]
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise schema_error(path, place, "must be a non-empty string", value)
    return value


def integer(value: Any, bounds: tuple[int, int], path: Path, key: str) -> int:
    """``value``, an integer (not a boolean) within ``bounds`` (both ends included)."""
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise schema_error(path, key, f"must be an integer from {span(bounds)}", value)
    return value


def span(bounds: tuple[int, int]) -> str:
    """``"1 to 1_000_000"``: a range as the errors write it."""
    low, high = bounds
    return f"{low:_} to {high:_}"


def strings(value: Any, path: Path, key: str) -> tuple[str, ...]:
    """``value``, a string or a list of strings, as a tuple."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise schema_error(
            path, key, 'must be a string or a list of strings, e.g. [".", "NA"]', value
        )
    return tuple(value)


def model_name(value: str, taken: tuple[str, ...], path: Path, key: str, hint: str = "") -> str:
    """``value`` if it can name a model's folder: a plain name, none of the file names ``taken``.

    No separator, no ``..``, no leading dot (see :data:`MODEL_NAME_RULE`);
    ``taken`` are compared ignoring case (a case-insensitive file system).
    """
    if not _MODEL_NAME.fullmatch(value) or ".." in value:
        raise schema_error(path, key, MODEL_NAME_RULE, value, hint)
    if value.casefold() in (name.casefold() for name in taken):
        raise schema_error(
            path, key, f"names a file the run writes ({', '.join(taken)})", value, hint
        )
    return value


def interval(raw: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """``ci_prob`` and ``ci_kind`` of ``[output]`` (``hdi_prob = p``: ``p`` and ``"hdi"``)."""
    values: dict[str, Any] = {}
    if "ci_prob" in raw:
        values["ci_prob"] = fraction(raw["ci_prob"], path, "output.ci_prob")
    if "ci_kind" in raw:
        values["ci_kind"] = choice(raw["ci_kind"], CI_KINDS, path, "output.ci_kind")
    if "hdi_prob" in raw:
        if values:
            raise schema_error(
                path,
                "output.hdi_prob",
                'is the former name of ci_prob with ci_kind = "hdi"; give either it or '
                "ci_prob and ci_kind, not both",
            )
        values = {
            "ci_prob": fraction(raw["hdi_prob"], path, "output.hdi_prob"),
            "ci_kind": "hdi",
        }
    return values


def family(table: Mapping[str, Any], path: Path, where: str) -> tuple[str, str | None]:
    """A model's ``family`` (default ``"gaussian"``) and ``link`` (``None``: the canonical one).

    ``link`` needs a ``family`` that has it (:data:`bayeshier.reml.glmm.families.FAMILIES`);
    ``likelihood`` (how a Gaussian model integrates effects out) is only for ``"gaussian"``.
    """
    name = choice(table.get("family", "gaussian"), FAMILY_CHOICES, path, f"{where}.family")
    link = table.get("link")
    if link is not None:
        links = FAMILIES.get(name, ("identity",))
        choice(link, links, path, f"{where}.link")
    if name != "gaussian" and table.get("likelihood", "auto") != "auto":
        raise schema_error(
            path,
            f"{where}.likelihood",
            f'is for family = "gaussian" only (a {name} model samples every group effect)',
            table["likelihood"],
        )
    return name, (None if name == "gaussian" else link)


def priors(raw: Any, path: Path, where: str) -> dict[str, str]:
    """A model's ``priors`` table: term -> prior string."""
    if not isinstance(raw, dict):
        raise schema_error(path, where, 'must be a table of term = "prior" lines', raw)
    for term, prior in raw.items():
        if not isinstance(prior, str):
            raise schema_error(
                path, f"{where}.{term}", 'must be a prior string such as "normal(0, 10)"', prior
            )
    return dict(raw)


def parameterizations(
    raw: Any, path: Path, where: str
) -> Parameterization | dict[str, Parameterization]:
    """``parameterization``: one choice for every factor, or a table of factor -> choice."""
    key = f"{where}.parameterization"
    if isinstance(raw, str):
        return parameterization(raw, path, key)
    if not isinstance(raw, dict):
        raise schema_error(path, key, f"must be one of {quoted(PARAMETERIZATIONS)} or a table", raw)
    return {
        factor: parameterization(chosen, path, f"{key}.{factor}") for factor, chosen in raw.items()
    }


def fraction(value: Any, path: Path, key: str) -> float:
    """``value`` as a float strictly between 0 and 1."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1:
        raise schema_error(path, key, "must be a number between 0 and 1 (exclusive)", value)
    return float(value)


def choice(value: Any, allowed: tuple[str, ...], path: Path, key: str) -> str:
    """``value`` if it is one of ``allowed``, else the error naming them all (and a close one)."""
    if value not in allowed:
        hint = close_matches_hint(value, allowed) if isinstance(value, str) else ""
        raise schema_error(path, key, f"must be one of {quoted(allowed)}", value, hint)
    return cast(str, value)


def sampler(value: Any, path: Path, key: str) -> Sampler:
    """``value``, one of :data:`bayeshier._choices.SAMPLERS`."""
    return cast(Sampler, choice(value, SAMPLERS, path, key))


def parameterization(value: Any, path: Path, key: str) -> Parameterization:
    """``value``, one of :data:`bayeshier._choices.PARAMETERIZATIONS`."""
    return cast(Parameterization, choice(value, PARAMETERIZATIONS, path, key))


def likelihood(value: Any, path: Path, key: str) -> Likelihood:
    """``value``, one of :data:`bayeshier._choices.LIKELIHOODS`."""
    return cast(Likelihood, choice(value, LIKELIHOODS, path, key))


def order(value: Any, path: Path, key: str) -> Order:
    """``value``, one of :data:`bayeshier._choices.ORDERS`."""
    return cast(Order, choice(value, ORDERS, path, key))


def quoted(allowed: tuple[str, ...]) -> str:
    """``"a", "b", "c"``: the allowed values as a schema error lists them."""
    return ", ".join(f'"{a}"' for a in allowed)
