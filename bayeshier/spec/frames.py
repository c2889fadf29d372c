"""Data in: any table-like input becomes a pandas DataFrame, in one place.

:func:`as_frame` is what :func:`~bayeshier.spec.model_spec.build_spec` (so
``fit_reml``, ``Model``) and predictions on new data call first. It accepts

* a pandas DataFrame (as it is) or a Dask DataFrame (left lazy);
* a dict (any mapping) of columns, e.g. ``{"y": [...], "g": [...]}``;
* a frame with a ``to_pandas()`` method (polars, pyarrow tables);
* a frame of the dataframe interchange protocol (``__dataframe__``).

Column names must be unique: a formula names columns, so a name held twice
is a :class:`~bayeshier.errors.DataError` naming it, not a wrong column.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import pandas as pd

from bayeshier.errors import DataError
from bayeshier.spec.specification import is_dask_frame

__all__ = ["as_frame", "check_unique_columns"]

_ACCEPTED = (
    "a pandas DataFrame, a dict of columns, a frame with a to_pandas() method (polars, "
    "pyarrow) or one of the dataframe interchange protocol (__dataframe__)"
)


def as_frame(data: object, where: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (a Dask DataFrame is returned as it is).

    Parameters
    ----------
    data : object
        A pandas or Dask DataFrame, a mapping of column names to values, an
        object with ``to_pandas()`` (polars, pyarrow) or ``__dataframe__``.
    where : str
        ``"data"`` or ``"new data"``, for messages.

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame

    Raises
    ------
    DataError
        For anything else, for columns of unequal length in a dict, and for
        a column name held twice.

    """
    if isinstance(data, pd.DataFrame) or is_dask_frame(data):
        frame = data
    elif isinstance(data, Mapping):
        frame = _from_mapping(data, where)
    else:
        frame = _from_foreign(data, where)
    check_unique_columns(frame.columns, where)
    return frame


def check_unique_columns(columns: pd.Index, where: str = "data") -> None:
    """Raise a :class:`DataError` naming the column names held more than once."""
    if columns.is_unique:
        return
    duplicated = list(dict.fromkeys(columns[columns.duplicated()].tolist()))
    names = ", ".join(repr(name) for name in duplicated)
    raise DataError(
        f"The {where} hold more than one column named {names}: a formula names columns, so "
        "every name must be unique. Rename or drop the duplicates (e.g. "
        "data.loc[:, ~data.columns.duplicated()] keeps the first of each)."
    )


def _from_mapping(data: Mapping, where: str) -> pd.DataFrame:
    try:
        return pd.DataFrame(dict(data))
    except (ValueError, TypeError) as error:
        lengths = {str(k): _length(v) for k, v in data.items()}
        raise DataError(
            f"The {where} are a dict of columns that do not make a table ({error}); the "
            f"columns' lengths are {lengths}. Give every column one value per row."
        ) from None


def _length(values: object) -> int | str:
    try:
        return len(values)  # type: ignore[arg-type]
    except TypeError:
        return "a single value"


def _from_foreign(data: object, where: str) -> pd.DataFrame:
    converted = None
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas):
        try:
            converted = to_pandas()
        except ImportError:  # e.g. polars without pyarrow: try the interchange protocol
            converted = None
    if converted is None and hasattr(data, "__dataframe__"):
        converted = _from_interchange(data)
    if not isinstance(converted, pd.DataFrame):
        raise DataError(
            f"The {where} must be {_ACCEPTED}, not {type(data).__module__}."
            f"{type(data).__name__}. Convert it to a pandas DataFrame first."
        )
    return converted


def _from_interchange(data: object) -> pd.DataFrame:
    """A frame of the dataframe interchange protocol (which pandas 3 deprecates) as pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ii]nterchange [Pp]rotocol is deprecated")
        return pd.api.interchange.from_dataframe(data)
