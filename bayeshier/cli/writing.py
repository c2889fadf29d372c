"""The files of a run: the report, the comparison CSV and each model's posterior.

Each function writes into a folder it is given: the run's staged output
folder (see :mod:`bayeshier.cli.output_folder`).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bayeshier.cli import figures, html_report

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier.cli.modelfile import ModelFile

__all__ = ["save_posterior", "write_comparison_csv", "write_report"]


def write_report(
    model_file: ModelFile,
    sections: list[html_report.ModelSection],
    folder: Path,
    notes: list[str],
) -> None:
    """Write the file's plots, ``comparison.csv`` and ``report.html`` in ``folder``.

    Parameters
    ----------
    model_file : ModelFile
        The model file run.
    sections : list of ModelSection
        One per model, in file order.
    folder : pathlib.Path
        The (staged) output folder.
    notes : list of str
        The notes at the top of the report.

    """
    file_images = figures.file_images(model_file.output.plots, folder)
    write_comparison_csv(sections, folder / "comparison.csv")
    page = html_report.render_report(
        model_file.title,
        sections,
        description=model_file.description,
        source=str(model_file.path),
        notes=notes,
        images=file_images,
        footer=_footer(),
    )
    (folder / "report.html").write_text(page, encoding="utf-8")


def _footer() -> str:
    from bayeshier import __version__

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"bayeshier {__version__}, {stamp}"


def save_posterior(idata: xr.DataTree, model_dir: Path) -> None:
    """Save the DataTree as ``model_dir/posterior.zarr``.

    Read it back with ``xarray.open_datatree(path, engine="zarr")``.

    The metadata are consolidated (one read opens the whole tree); zarr's note
    that consolidation is not yet part of the Zarr 3 specification is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        idata.to_zarr(model_dir / "posterior.zarr", mode="w")


def write_comparison_csv(sections: list[html_report.ModelSection], path: Path) -> None:
    """Write the comparison tables of every model as one long CSV (columns model, table, ...).

    Gaussian and GLMM models share a column where their tables do (``term``,
    ``level``, ``post_mean``, ...); a column only one kind has is empty for the other.
    """
    frames = []
    for section in sections:
        comparison = section.comparison
        for table_name, table in (
            ("fixed", comparison.fixed),
            ("groups", comparison.groups),
            ("variances", comparison.variances),
        ):
            frames.append(table.assign(model=section.name, table=table_name))
    combined = pd.concat(frames, ignore_index=True)
    # a GLMM's tables name the grouping factor "factor" where a Gaussian model's say "group"
    first = [
        c
        for c in ("model", "table", "term", "group", "factor", "level", "component")
        if c in combined
    ]
    combined = combined[[*first, *(c for c in combined.columns if c not in first)]]
    combined.to_csv(path, index=False)
