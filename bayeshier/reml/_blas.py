"""Control of BLAS threads around small dense linear algebra.

Waking a second BLAS thread for a tiny matrix costs more than the
computation (milliseconds per call with OpenBLAS), so the solver runs on one
BLAS thread unless its dense block is large.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads_for"]

#: Below this size of the dense block, BLAS runs on one thread.
SINGLE_THREAD_BELOW = 4096


@cache
def _controller() -> ThreadpoolController:
    """One controller per process: discovering the BLAS libraries is slow."""
    return ThreadpoolController()


def blas_threads_for(dense_size: int) -> AbstractContextManager:
    """Limit BLAS to one thread while a dense block of ``dense_size`` rows is small."""
    threads = 1 if dense_size < SINGLE_THREAD_BELOW else None
    return _controller().limit(limits=threads, user_api="blas")
