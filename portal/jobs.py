"""Background jobs the staff start from the browser (file imports), with progress the page can poll.
Kept in memory per process: a job's result is also recorded durably in the store and the audit log."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    id: str
    owner: str
    state: str = "running"        # running | done | failed
    percent: int = 0
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: str) -> Job:
        job = Job(secrets.token_urlsafe(12), owner)
        with self._lock:
            self._jobs[job.id] = job
            if len(self._jobs) > 200:  # keep memory bounded
                for old in list(self._jobs)[:100]:
                    if self._jobs[old].state != "running":
                        del self._jobs[old]
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job and job.owner == owner else None
