"""Checks of single values in a model file, each failing with the schema's one error message.

Every check takes the value, the model file's path and the key's dotted place
in the file (``model[0].sampler.draws``) and returns the value, typed; a value
that breaks the schema raises :class:`~bayeshier.errors.ModelFileError` from
:func:`schema_error`: ``<file>: key '<key>' <what is allowed>, got <value>.<hint>``.

The choices (sampler, parameterization, likelihood, order) are those of
:mod:`bayeshier._choices`, and come back typed as its ``Literal`` types.
"""

from __future__ import annotations

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

__all__ = [
    "choice",
    "fraction",
    "integer",
    "likelihood",
    "order",
    "parameterization",
    "quoted",
    "sampler",
    "schema_error",
    "string",
]

_MISSING = object()


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


def integer(value: Any, least: int, path: Path, key: str) -> int:
    """``value``, an integer (not a boolean) of at least ``least``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise schema_error(path, key, f"must be an integer >= {least}", value)
    return value


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
