"""Running the benchmark's runs as Ray tasks (``benchmarks/tuning.py --ray [ADDRESS]``).

Each (task, method, seed) run is one Ray task that calls the same function the local process
pool calls, with the same arguments, so a seed gives the same record on a laptop and on a
cluster. Results come back as each task ends and go to the same ``finish`` callback as the
local pool's, which appends them to the partial file at once: an interrupted Ray run keeps
what finished, and the next invocation runs only the rest.

Without an address a Ray instance is started on this machine (and stopped at the end); with
one (``auto``, ``HOST:6379`` or ``ray://HOST:10001``) the runs go to that cluster, whose
nodes need the same rectune installation (``pip install "rectune[bench]"``).
Ray is an optional dependency (the ``bench`` extra) and is imported only here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LOCAL_RAY", "RayPool", "ray_available"]

LOCAL_RAY = "local"
"""The ``--ray`` value (also what a bare ``--ray`` means) that starts Ray on this machine."""

Job = Any
"""One run's arguments: a tuple that starts with (task, method, seed)."""
Finish = Callable[[dict[str, Any]], None]


def ray_available() -> bool:
    """Whether Ray can be imported."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


class RayPool:
    """Runs jobs as Ray tasks, one CPU each.

    Args:
        address: `LOCAL_RAY` to start Ray here, or a cluster address for ``ray.init``.
        num_cpus: CPUs of a Ray started here (default: all of this machine's); ignored for a
            cluster, which has its own.

    Raises:
        RuntimeError: when Ray is not installed (naming the extra that brings it).
    """

    def __init__(self, address: str = LOCAL_RAY, *, num_cpus: int | None = None) -> None:
        if not ray_available():
            raise RuntimeError(
                "--ray needs Ray, which is not installed; install it with: "
                'pip install -e ".[bench]"'
            )
        if not address.strip():
            raise ValueError("--ray: the address is empty; give none for a local Ray")
        self.address = address
        self.num_cpus = num_cpus

    def __repr__(self) -> str:
        return f"RayPool({self.address!r})"

    def run(self, fn: Callable[[Job], dict[str, Any]], jobs: Sequence[Job], finish: Finish) -> (
        None
    ):
        """Run ``fn(job)`` for every job as a Ray task and give each result to `finish` as it
        arrives (in completion order, as the local pool's ``as_completed``).

        A task that Ray itself loses (its worker process died, the node left) becomes a
        record with ``error`` for that (task, method, seed), like a run that raised: the
        other runs go on and the lost one is run again by the next invocation.
        """
        import ray

        if not jobs:
            return
        started_here = not ray.is_initialized()
        if started_here:
            if self.address == LOCAL_RAY:
                # Its workers inherit this process's environment (OMP_NUM_THREADS=1 from
                # the command line) and import rectune from this interpreter's packages.
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)
            pending = {remote.remote(job): job for job in jobs}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    finish(self._result(ray, ref, job))
        finally:
            if started_here:
                ray.shutdown()

    @staticmethod
    def _result(ray: Any, ref: Any, job: Job) -> dict[str, Any]:
        try:
            result: dict[str, Any] = ray.get(ref)
        except (ray.exceptions.RayError, OSError) as exc:
            task, method, seed = job[0], job[1], job[2]
            return {"task": task, "method": method, "seed": seed,
                    "error": f"lost by Ray: {type(exc).__name__}: {exc}"}
        return result
