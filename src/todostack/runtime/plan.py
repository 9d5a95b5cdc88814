"""What one worker is told by the server that starts it: decided once, handed down as a value."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from todostack.runtime.sizing import Sizing

__all__ = ["WORKER_PLAN_ENV", "WorkerPlan"]

# Only for servers that start their workers as fresh interpreters from an import string (uvicorn):
# the environment is then the one channel into them. granian gets the plan as a value.
WORKER_PLAN_ENV = "TODOSTACK_WORKER_PLAN"


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    sizing: Sizing
    # The server process a worker must not outlive (runtime.parent); None: watch nothing.
    server_pid: int | None = None
    # Where each worker's profile socket goes (/debug/pprof?pid=...); None: no peer sockets.
    peer_dir: str | None = None

    def with_memory_for_workers(self, total_bytes: int) -> WorkerPlan:
        """The workers share ``total_bytes`` (what the soft limit leaves after the server process)."""
        sizing = replace(
            self.sizing,
            soft_limit_bytes=total_bytes,
            soft_limit_bytes_per_worker=total_bytes // self.sizing.workers,
        )
        return replace(self, sizing=sizing)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> WorkerPlan:
        loaded = json.loads(raw)
        return cls(Sizing(**loaded["sizing"]), loaded["server_pid"], loaded["peer_dir"])
