"""Layer 1: from a formula and a data frame to the frozen :class:`ModelSpec`.

The spec owns the meaning of a formula. A formula is data, never code: it
is tokenized (:mod:`~bayeshier.spec.tokens`), parsed into a tree
(:mod:`~bayeshier.spec.parser`, :mod:`~bayeshier.spec.tree`), checked against
the allowlist (:mod:`~bayeshier.spec.allowlist`) and expanded by R's term
algebra (:mod:`~bayeshier.spec.terms`, :mod:`~bayeshier.spec.formula`); only
then is that tree evaluated, column by column
(:mod:`~bayeshier.spec.evaluate`, :mod:`~bayeshier.spec.functions`), into
designs coded by R's ``model.matrix`` rules (:mod:`~bayeshier.spec.encode`)
and grouping factors (:mod:`~bayeshier.spec.factors`). Rows are handled in
:mod:`~bayeshier.spec.rows`, the spec is built in
:mod:`~bayeshier.spec.build` and :mod:`~bayeshier.spec.model_spec`, and, for
a Dask DataFrame, over its partitions in :mod:`~bayeshier.spec.dask_rows`.
Any table-like input becomes a pandas DataFrame in
:mod:`~bayeshier.spec.frames`. It imports nothing from the engines above it.
"""

from bayeshier.spec.model_spec import (
    FixedSums,
    GroupingFactor,
    ModelSpec,
    RowSource,
    as_frame,
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
    "as_frame",
    "build_spec",
    "finish_spec",
    "fixed_sums",
    "is_dask_frame",
    "spec_from_rows",
    "thin_r",
    "used_columns",
]
