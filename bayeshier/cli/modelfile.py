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
    ``title`` (str), ``description`` (str), ``na_values`` (str or list of
    str, for every model), ``sampler`` (table), ``output`` (table),
    ``model`` (array of tables, at least one).
``[[model]]``
    ``data`` and ``formula`` (str, required); ``name`` (the name of the
    model's folder in the output: letters, digits, ``_``, ``-`` and ``.``,
    not starting with ``.``, no ``..``, not the name of a file the run writes
    next to the models such as ``report.html``; unique, also ignoring case;
    required when the file holds several models, else the file's stem);
    ``description`` (str); ``na_values`` (str or list of str: values of a
    CSV file that mean "missing", added to the top level's and to
    ``--na-values``, passed to ``pandas.read_csv(na_values=...)``); ``priors`` (table
    of term -> prior string); ``parameterization`` (``"auto"``,
    ``"centered"``, ``"noncentered"``, or a table of factor -> one of them);
    ``likelihood`` (``"auto"``, ``"full"`` or ``"collapsed"``, as
    ``Model(likelihood=...)``: ``"collapsed"`` integrates the largest
    factor's effects out of the sampled likelihood, ``"full"`` samples every
    group effect, ``"auto"``, the default, collapses whenever it can; for
    ``family = "gaussian"`` only); ``family`` (``"gaussian"``, the default,
    ``"binomial"`` or ``"poisson"``: a binomial or Poisson model is fitted by
    :func:`bayeshier.fit_glmm` and sampled by
    :class:`bayeshier.bayes.glmm.GlmmModel`) and ``link`` (binomial:
    ``"logit"``, the default, ``"probit"`` or ``"cloglog"``; poisson:
    ``"log"``); ``weights`` and ``offset`` (str: a column or an expression
    of columns, allowlisted like the formula, as ``fit_reml(weights=...,
    offset=...)``); ``sampler`` (table, overrides the file's).
``[sampler]``
    ``draws`` (int, 1 to 10**6), ``tune`` (int, 0 to 10**6), ``chains``
    (int, 1 to 64), ``seed`` (int, 0 to 2**32 - 1; see
    :data:`bayeshier.cli.schema_checks.SAMPLER_RANGES`), ``sampler`` (``"nutpie"`` or ``"pymc"``),
    ``target_accept`` (float in (0, 1)).
``[output]``
    ``plots`` (list of plot names registered in :data:`bayeshier.cli.figures.PLOTS`;
    default: the plots registered as drawn by default), ``posterior`` (bool: save
    the posterior as zarr), ``ci_prob`` (float in (0, 1)) and ``ci_kind``
    (``"eti"`` or ``"hdi"``): the posterior intervals of the tables, plots and
    report, by default ArviZ's (``arviz.rcParams["stats.ci_prob"]`` and
    ``["stats.ci_kind"]``, an 89% ETI), the same convention as
    :func:`bayeshier.compare`; ``hdi_prob = p``, the former key, is kept as
    an alias of ``ci_prob = p`` with ``ci_kind = "hdi"``; ``order``
    (``"shrinkage"``, ``"size"`` or ``"level"``: order of the levels in the
    comparison tables).

Every schema error is a :class:`~bayeshier.errors.ModelFileError` whose message
names the file, the key and what is allowed (the checks of single values are in
:mod:`bayeshier.cli.schema_checks`). A model's ``data`` is read by
:func:`bayeshier.cli.model_data.read_data`; data that cannot be read give a
:class:`~bayeshier.errors.DataError`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bayeshier._choices import Likelihood, Order, Parameterization, Sampler
from bayeshier.cli import figures
from bayeshier.cli import schema_checks as check
from bayeshier.cli.schema_checks import schema_error
from bayeshier.errors import ModelFileError, close_matches_hint
from bayeshier.present.intervals import CiKind

__all__ = [
    "FILE_OUTPUTS",
    "ModelEntry",
    "ModelFile",
    "OutputSettings",
    "SamplerSettings",
    "load",
    "parse",
]

#: The files a run writes next to the models' folders (a model may not take their names).
FILE_OUTPUTS = ("report.html", "comparison.csv")

_TOP_KEYS = ("title", "description", "na_values", "sampler", "output", "model")
_MODEL_KEYS = (
    "name",
    "data",
    "formula",
    "description",
    "na_values",
    "priors",
    "parameterization",
    "likelihood",
    "family",
    "link",
    "weights",
    "offset",
    "sampler",
)
_SAMPLER_KEYS = ("draws", "tune", "chains", "seed", "sampler", "target_accept")
_OUTPUT_KEYS = ("plots", "posterior", "ci_prob", "ci_kind", "hdi_prob", "order")


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
    per-factor plot is drawn for the factors it applies to. ``ci_prob`` and
    ``ci_kind`` are passed to :func:`bayeshier.compare`; ``None`` takes
    ArviZ's rcParams (an 89% ETI unless changed).
    """

    plots: tuple[str, ...] = field(default_factory=figures.default_names)
    posterior: bool = True
    ci_prob: float | None = None
    ci_kind: CiKind | None = None
    order: Order = "shrinkage"


@dataclass(frozen=True)
class ModelEntry:
    """One model of a file: data source, formula, priors, likelihood and sampler settings.

    ``likelihood`` is passed to :class:`bayeshier.Model` as is (``"auto"``,
    ``"full"`` or ``"collapsed"``). ``na_values`` are the file's and the
    model's own values that mean "missing" in a CSV file. ``family`` is
    ``"gaussian"`` or a family of :func:`bayeshier.fit_glmm` (``"binomial"``,
    ``"poisson"``), with its ``link`` (``None``: the canonical one).
    ``weights`` and ``offset`` are a column name or an expression of columns
    in the formula language (allowlisted like the formula), with lme4's
    meaning, as :func:`bayeshier.fit_reml`'s arguments; ``None``: none.
    """

    name: str
    data: str
    formula: str
    description: str = ""
    priors: Mapping[str, str] = field(default_factory=dict)
    parameterization: Parameterization | Mapping[str, Parameterization] = "auto"
    likelihood: Likelihood = "auto"
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    na_values: tuple[str, ...] = ()
    family: str = "gaussian"
    link: str | None = None
    weights: str | None = None
    offset: str | None = None


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
    na_values = check.strings(raw.get("na_values", []), path, "na_values")
    models = _models(raw.get("model"), defaults, path)
    models = tuple(replace(m, na_values=_union(na_values, m.na_values)) for m in models)
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
    names = [entry.name.casefold() for entry in entries]
    repeated = sorted({e.name for e in entries if names.count(e.name.casefold()) > 1})
    if repeated:
        raise schema_error(
            path,
            "model.name",
            f"must be unique, also ignoring case (each names a folder); repeated: "
            f"{', '.join(repeated)}",
        )
    return tuple(entries)


def _model(
    table: Mapping[str, Any], index: int, count: int, defaults: SamplerSettings, path: Path
) -> ModelEntry:
    where = f"model[{index}]"
    _check_keys(table, _MODEL_KEYS, path, where)
    if count > 1 and "name" not in table:
        raise schema_error(path, f"{where}.name", "is required when a file holds several models")
    family, link = check.family(table, path, where)
    return ModelEntry(
        name=_name(table, path, where),
        data=check.string(table, "data", path, where),
        formula=check.string(table, "formula", path, where),
        description=check.string(table, "description", path, where, default=""),
        priors=check.priors(table.get("priors", {}), path, f"{where}.priors"),
        parameterization=check.parameterizations(
            table.get("parameterization", "auto"), path, where
        ),
        likelihood=check.likelihood(table.get("likelihood", "auto"), path, f"{where}.likelihood"),
        sampler=_sampler(table.get("sampler", {}), defaults, path, f"{where}.sampler"),
        na_values=check.strings(table.get("na_values", []), path, f"{where}.na_values"),
        family=family,
        link=link,
        weights=check.string(table, "weights", path, where, default="") or None,
        offset=check.string(table, "offset", path, where, default="") or None,
    )


def _name(table: Mapping[str, Any], path: Path, where: str) -> str:
    """The model's name: a folder name, not one of the files written next to the models."""
    name = check.string(table, "name", path, where, default=path.stem)
    hint = "" if "name" in table else ' It is the file\'s stem: give the model a name = "...".'
    taken = (*FILE_OUTPUTS, *(f"{plot}.png" for plot in figures.names("file")))
    return check.model_name(name, taken, path, f"{where}.name", hint)


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """The values of every group, each once, in order."""
    return tuple(dict.fromkeys(value for group in groups for value in group))


def _sampler(raw: Any, defaults: SamplerSettings, path: Path, where: str) -> SamplerSettings:
    if not isinstance(raw, dict):
        raise schema_error(path, where, "must be a table", raw)
    _check_keys(raw, _SAMPLER_KEYS, path, where)
    values: dict[str, Any] = {}
    for key, bounds in check.SAMPLER_RANGES.items():
        if key in raw:
            values[key] = check.integer(raw[key], bounds, path, f"{where}.{key}")
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
    values.update(check.interval(raw, path))
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
