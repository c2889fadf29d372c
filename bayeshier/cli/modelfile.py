"""Declarative model files: TOML files that ``bayeshier run`` executes.

A model file names the data, the formula, optional priors, the sampler
settings and what to output. One file may hold several models (one
``[[model]]`` table each); ``[sampler]`` and ``[output]`` at the top apply to
every model, and a model's own ``[model.sampler]`` overrides single settings.

Example (``models/mpg_class.toml``)::

    title = "Highway mpg: lm vs lmer"

    [sampler]
    draws = 1000
    tune = 1000
    chains = 4
    seed = 20240501
    sampler = "nutpie"

    [output]
    plots = ["shrinkage_arrows", "forest", "trace", "energy"]

    [[model]]
    name = "mpg_class"
    data = "mpg"                        # a bundled data set, or a .csv/.parquet path
    formula = "hwy ~ displ + year + (1|class)"

    [model.priors]                      # optional: same short specs as Model(priors=...)
    sd_class = "exponential(0.2)"

Keys and what they accept
-------------------------
top level
    ``title`` (str), ``description`` (str), ``sampler`` (table), ``output``
    (table), ``model`` (array of tables, at least one).
``[[model]]``
    ``data`` and ``formula`` (str, required); ``name`` (str of letters,
    digits, ``_``, ``-`` and ``.``; required when the file holds several
    models, else the file's stem); ``description`` (str); ``priors`` (table
    of term -> prior string); ``parameterization`` (``"auto"``,
    ``"centered"``, ``"noncentered"``, or a table of factor -> one of them);
    ``likelihood`` (``"auto"``, ``"full"`` or ``"collapsed"``, as
    ``Model(likelihood=...)``: ``"collapsed"`` integrates the largest
    factor's effects out of the sampled likelihood, ``"full"`` samples every
    group effect, ``"auto"``, the default, collapses whenever it can);
    ``sampler`` (table, overrides the file's).
``[sampler]``
    ``draws`` (int >= 1), ``tune`` (int >= 0), ``chains`` (int >= 1),
    ``seed`` (int >= 0), ``sampler`` (``"nutpie"`` or ``"pymc"``),
    ``target_accept`` (float in (0, 1)).
``[output]``
    ``plots`` (list of plot names registered in :data:`bayeshier.cli.figures.PLOTS`;
    default: the plots registered as drawn by default), ``posterior`` (bool: save
    the posterior as zarr), ``hdi_prob`` (float in (0, 1)), ``order``
    (``"shrinkage"``, ``"size"`` or ``"level"``: order of the levels in the
    comparison tables).

Every schema error is a :class:`~bayeshier.errors.ModelFileError` whose message
names the file, the key and what is allowed (the checks of single values are in
:mod:`bayeshier.cli.schema_checks`). A model's ``data`` is read by
:func:`bayeshier.cli.model_data.read_data`; data that cannot be read give a
:class:`~bayeshier.errors.DataError`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bayeshier._choices import PARAMETERIZATIONS, Likelihood, Order, Parameterization, Sampler
from bayeshier.cli import figures
from bayeshier.cli import schema_checks as check
from bayeshier.cli.schema_checks import schema_error
from bayeshier.errors import ModelFileError, close_matches_hint

__all__ = [
    "ModelEntry",
    "ModelFile",
    "OutputSettings",
    "SamplerSettings",
    "load",
    "parse",
]

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

_TOP_KEYS = ("title", "description", "sampler", "output", "model")
_MODEL_KEYS = (
    "name",
    "data",
    "formula",
    "description",
    "priors",
    "parameterization",
    "likelihood",
    "sampler",
)
_SAMPLER_KEYS = ("draws", "tune", "chains", "seed", "sampler", "target_accept")
_OUTPUT_KEYS = ("plots", "posterior", "hdi_prob", "order")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: NUTS settings of :meth:`bayeshier.Model.sample`."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    sampler: Sampler = "nutpie"
    target_accept: float | None = None


@dataclass(frozen=True)
class OutputSettings:
    """What ``bayeshier run`` writes besides the report and the comparison CSV.

    ``plots`` are names registered in :data:`bayeshier.cli.figures.PLOTS`; each
    per-factor plot is drawn for the factors it applies to.
    """

    plots: tuple[str, ...] = field(default_factory=figures.default_names)
    posterior: bool = True
    hdi_prob: float = 0.94
    order: Order = "shrinkage"


@dataclass(frozen=True)
class ModelEntry:
    """One model of a file: data source, formula, priors, likelihood and sampler settings.

    ``likelihood`` is passed to :class:`bayeshier.Model` as is (``"auto"``,
    ``"full"`` or ``"collapsed"``).
    """

    name: str
    data: str
    formula: str
    description: str = ""
    priors: Mapping[str, str] = field(default_factory=dict)
    parameterization: Parameterization | Mapping[str, Parameterization] = "auto"
    likelihood: Likelihood = "auto"
    sampler: SamplerSettings = field(default_factory=SamplerSettings)


@dataclass(frozen=True)
class ModelFile:
    """A validated model file."""

    path: Path
    title: str
    description: str
    models: tuple[ModelEntry, ...]
    output: OutputSettings

    @property
    def stem(self) -> str:
        """The file name without its suffix (the default output directory's name)."""
        return self.path.stem


# ================================================================ reading
def load(path: str | Path) -> ModelFile:
    """Read and validate a model file.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.toml`` file.

    Returns
    -------
    ModelFile

    Raises
    ------
    ModelFileError
        The file is missing, is not valid TOML, or breaks the schema (the
        message names the file, the key and what is allowed).

    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"No model file at {str(path)!r}: check the path.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ModelFileError(f"{path}: not valid TOML ({error}).") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a UTF-8 text file; a model file is TOML text.") from None
    return parse(raw, path)


def parse(raw: Mapping[str, Any], path: str | Path) -> ModelFile:
    """Validate the parsed TOML of a model file.

    Parameters
    ----------
    raw : mapping
        The result of :func:`tomllib.loads`.
    path : str or pathlib.Path
        The file it came from (named in error messages; relative data paths
        are resolved against its folder).

    Returns
    -------
    ModelFile

    Raises
    ------
    ModelFileError
        The first schema violation found.

    """
    path = Path(path)
    _check_keys(raw, _TOP_KEYS, path, "")
    defaults = _sampler(raw.get("sampler", {}), SamplerSettings(), path, "sampler")
    models = _models(raw.get("model"), defaults, path)
    return ModelFile(
        path=path,
        title=check.string(raw, "title", path, "", default=path.stem),
        description=check.string(raw, "description", path, "", default=""),
        models=models,
        output=_output(raw.get("output", {}), path),
    )


# ========================================================= the sections
def _models(raw: Any, defaults: SamplerSettings, path: Path) -> tuple[ModelEntry, ...]:
    if raw is None:
        raise schema_error(path, "model", "is required: add at least one [[model]] table")
    if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) for m in raw):
        raise schema_error(path, "model", "must be one or more [[model]] tables", raw)
    entries = [_model(table, i, len(raw), defaults, path) for i, table in enumerate(raw)]
    names = [entry.name for entry in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise schema_error(path, "model.name", f"must be unique; repeated: {', '.join(repeated)}")
    return tuple(entries)


def _model(
    table: Mapping[str, Any], index: int, count: int, defaults: SamplerSettings, path: Path
) -> ModelEntry:
    where = f"model[{index}]"
    _check_keys(table, _MODEL_KEYS, path, where)
    if count > 1 and "name" not in table:
        raise schema_error(path, f"{where}.name", "is required when a file holds several models")
    name = check.string(table, "name", path, where, default=path.stem)
    if not _MODEL_NAME.match(name):
        raise schema_error(
            path, f"{where}.name", "must use only letters, digits, '_', '-', '.'", name
        )
    return ModelEntry(
        name=name,
        data=check.string(table, "data", path, where),
        formula=check.string(table, "formula", path, where),
        description=check.string(table, "description", path, where, default=""),
        priors=_priors(table.get("priors", {}), path, f"{where}.priors"),
        parameterization=_parameterization(table.get("parameterization", "auto"), path, where),
        likelihood=check.likelihood(table.get("likelihood", "auto"), path, f"{where}.likelihood"),
        sampler=_sampler(table.get("sampler", {}), defaults, path, f"{where}.sampler"),
    )


def _priors(raw: Any, path: Path, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise schema_error(path, where, 'must be a table of term = "prior" lines', raw)
    for term, prior in raw.items():
        if not isinstance(prior, str):
            raise schema_error(
                path, f"{where}.{term}", 'must be a prior string such as "normal(0, 10)"', prior
            )
    return dict(raw)


def _parameterization(
    raw: Any, path: Path, where: str
) -> Parameterization | dict[str, Parameterization]:
    key = f"{where}.parameterization"
    if isinstance(raw, str):
        return check.parameterization(raw, path, key)
    if not isinstance(raw, dict):
        raise schema_error(
            path, key, f"must be one of {check.quoted(PARAMETERIZATIONS)} or a table", raw
        )
    return {
        factor: check.parameterization(choice, path, f"{key}.{factor}")
        for factor, choice in raw.items()
    }


def _sampler(raw: Any, defaults: SamplerSettings, path: Path, where: str) -> SamplerSettings:
    if not isinstance(raw, dict):
        raise schema_error(path, where, "must be a table", raw)
    _check_keys(raw, _SAMPLER_KEYS, path, where)
    values: dict[str, Any] = {}
    for key, least in (("draws", 1), ("tune", 0), ("chains", 1), ("seed", 0)):
        if key in raw:
            values[key] = check.integer(raw[key], least, path, f"{where}.{key}")
    if "sampler" in raw:
        values["sampler"] = check.sampler(raw["sampler"], path, f"{where}.sampler")
    if "target_accept" in raw:
        values["target_accept"] = check.fraction(
            raw["target_accept"], path, f"{where}.target_accept"
        )
    return replace(defaults, **values)


def _output(raw: Any, path: Path) -> OutputSettings:
    if not isinstance(raw, dict):
        raise schema_error(path, "output", "must be a table", raw)
    _check_keys(raw, _OUTPUT_KEYS, path, "output")
    values: dict[str, Any] = {}
    if "plots" in raw:
        values["plots"] = _plots(raw["plots"], path)
    if "posterior" in raw:
        if not isinstance(raw["posterior"], bool):
            raise schema_error(path, "output.posterior", "must be true or false", raw["posterior"])
        values["posterior"] = raw["posterior"]
    if "hdi_prob" in raw:
        values["hdi_prob"] = check.fraction(raw["hdi_prob"], path, "output.hdi_prob")
    if "order" in raw:
        values["order"] = check.order(raw["order"], path, "output.order")
    return OutputSettings(**values)


def _plots(raw: Any, path: Path) -> tuple[str, ...]:
    """The plot names, checked against the registry, repeats dropped."""
    registered = figures.names()
    if not isinstance(raw, list):
        raise schema_error(
            path, "output.plots", f"must be a list of plot names from {check.quoted(registered)}"
        )
    for index, name in enumerate(raw):
        check.choice(name, registered, path, f"output.plots[{index}]")
    return tuple(dict.fromkeys(raw))


# ============================================================== checks
def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], path: Path, where: str) -> None:
    for key in table:
        if key not in allowed:
            place = f"{where}.{key}" if where else key
            section = f"in [{where}]" if where else "at the top level"
            hint = _belongs_hint(key, allowed) or close_matches_hint(key, allowed)
            raise schema_error(
                path,
                place,
                f"is not allowed here.{hint} Allowed {section}: {', '.join(allowed)}",
            )


def _belongs_hint(key: str, allowed: tuple[str, ...]) -> str:
    """``" It belongs in [[model]]."`` when ``key`` is valid in another section, else ``""``."""
    sections = {
        "[[model]]": _MODEL_KEYS,
        "[sampler] (or [model.sampler])": _SAMPLER_KEYS,
        "[output]": _OUTPUT_KEYS,
    }
    homes = [name for name, keys in sections.items() if key in keys and keys is not allowed]
    return f" It belongs in {' or '.join(homes)}." if homes else ""
