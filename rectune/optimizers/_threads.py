"""Run the engine's linear algebra on one BLAS thread.

The matrices here are tiny (tens of observations); a multi-threaded BLAS spends more time
waking threads than computing, which made a proposal call several times slower in practice.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

__all__ = ["single_blas_thread"]

P = ParamSpec("P")
R = TypeVar("R")


def single_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate `fn` so that it runs with the BLAS thread pool limited to one thread."""

    @wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return inner
