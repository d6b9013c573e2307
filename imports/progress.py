"""A running import's pulse, seen from outside its transaction.

The run writes everything in one transaction, which hides its own writes until it commits. So
a thread of the worker publishes the number of rows processed and a heartbeat every
``HEARTBEAT_SECONDS`` on a database connection of its own (committed at once, not audited:
bookkeeping, like a lease). A run whose heartbeat is older than ``IMPORT_LEASE_SECONDS`` has
died with its worker (SIGKILL, lost machine): PostgreSQL rolled its transaction back, and the
import is failed (``imports.services.import_state``) and may be retried.
"""

from __future__ import annotations

import threading
from types import TracebackType

from django.db import connection
from django.utils import timezone

from imports.models import Import

HEARTBEAT_SECONDS = 0.5


class Pulse:
    """``with Pulse(run) as pulse: ... pulse.advance(n)``; stops before the run commits."""

    def __init__(self, run: Import) -> None:
        self.import_id, self.attempt, self.total = run.pk, run.attempt, run.total
        self.processed = 0.0  # rows: a row checked but not yet written counts half
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"import-{run.pk}-pulse", daemon=True)

    def advance(self, rows: float) -> None:
        self.processed += rows

    def __enter__(self) -> Pulse:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stopped.set()
            self._thread.join()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _publish(self) -> None:
        Import.objects.filter(pk=self.import_id, attempt=self.attempt).update(
            processed=min(int(self.processed), self.total), heartbeat_at=timezone.now()
        )

    def _beat(self) -> None:
        try:
            while not self._stopped.wait(HEARTBEAT_SECONDS):
                self._publish()
            self._publish()  # where the run got to, before it commits or rolls back
        finally:
            connection.close()  # this thread's own connection, back to the pool
