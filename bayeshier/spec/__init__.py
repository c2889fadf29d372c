"""Layer 1: from a formula and a data frame to the frozen :class:`ModelSpec`.

The spec owns the meaning of a formula (:mod:`bayeshier.spec.formula`), the
encoding of the data (:mod:`bayeshier.spec.model_spec`) and, for a Dask
DataFrame, the passes over its partitions (:mod:`bayeshier.spec.dask_rows`).
It imports nothing from the engines above it.
"""

from bayeshier.spec.model_spec import (
    FixedSums,
    GroupingFactor,
    ModelSpec,
    RowSource,
    build_spec,
    finish_spec,
    fixed_sums,
    is_dask_frame,
    spec_from_rows,
    thin_r,
    used_columns,
)

__all__ = [
    "FixedSums",
    "GroupingFactor",
    "ModelSpec",
    "RowSource",
    "build_spec",
    "finish_spec",
    "fixed_sums",
    "is_dask_frame",
    "spec_from_rows",
    "thin_r",
    "used_columns",
]
