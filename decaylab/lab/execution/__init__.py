"""Where units of work run: the contract (:mod:`.base`), this machine (:mod:`.local`) or a Ray cluster
(:mod:`.ray_cluster`), chosen by name with :func:`make_executor`."""

from __future__ import annotations

from decaylab.lab.errors import UsageError
from decaylab.lab.execution.base import Executor
from decaylab.lab.execution.local import LocalExecutor


def make_executor(
    name: str,
    workers: int | None = None,
    device: str = "cpu",
    address: str | None = None,
    gpus_per_task: float = 0.0,
    connect_timeout: float = 30.0,
) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if gpus_per_task:
            raise UsageError("--gpus-per-task needs --executor ray")
        if address:
            raise UsageError("--address needs --executor ray")
        return LocalExecutor(workers, device)
    if name == "ray":
        from decaylab.lab.execution.ray_cluster import RayExecutor

        return RayExecutor(workers, device, address, gpus_per_task, connect_timeout)
    raise UsageError(f"unknown executor {name!r}; choose local or ray")
