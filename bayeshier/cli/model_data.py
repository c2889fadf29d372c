"""The data of a model file's model: a bundled data set by name, or a CSV / Parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bayeshier import datasets
from bayeshier.errors import DataError, close_matches_hint

__all__ = ["DATA_SUFFIXES", "read_data"]

#: The file types a model's ``data`` path may have.
DATA_SUFFIXES = (".csv", ".parquet")


def read_data(source: str, base: str | Path) -> pd.DataFrame:
    """A bundled data set by name, or a CSV / Parquet file by path relative to ``base``.

    Parameters
    ----------
    source : str
        A name from :func:`bayeshier.datasets.names` or a path ending in
        ``.csv`` or ``.parquet``.
    base : str or pathlib.Path
        Folder that relative paths start from (the model file's folder).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        Unknown name, missing file or unreadable file.

    """
    if source in datasets.names():
        return datasets.load(source)
    suffix = Path(source).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"data = {source!r} is neither a bundled data set nor a .csv/.parquet path."
            f"{close_matches_hint(source, datasets.names())} "
            f"Bundled: {', '.join(datasets.names())}."
        )
    path = Path(base) / source
    if not path.is_file():
        raise DataError(f"No data file at {str(path)!r} (data = {source!r}): check the path.")
    return _read_table(path, suffix)


def _read_table(path: Path, suffix: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except ImportError as error:
        raise DataError(f"Cannot read {str(path)!r}: {error}") from None
    except (ValueError, OSError) as error:
        raise DataError(f"Cannot read {str(path)!r} as {suffix[1:]}: {error}") from None
