"""Base classes for background jobs.

``JobTask``: runs in the public schema under its own job identity (the task name), never as a
person. ``TenantTask``: enqueued inside a customer's schema, it carries the schema name in a
message header, runs inside that schema on the worker and always returns the connection to
``public`` afterwards, so the next task on that worker process starts clean.

Tasks are acknowledged late (a killed worker's task is delivered again), so each must be
idempotent: running it twice leaves the same state as running it once.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from audit.context import job_context
from tenants.schema import tenant_connection

SCHEMA_HEADER = "serviflow_schema"


class JobTask(Task):  # type: ignore[type-arg]
    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Calls run() itself: Task.__call__ would push a bare request over the worker's one.
        with job_context(self.name):
            try:
                return self.run(*args, **kwargs)
            finally:
                tenant_connection.set_schema_to_public()


class TenantTask(JobTask):
    abstract = True

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        """``schema=`` names the customer explicitly (for enqueues from ``on_commit``)."""
        schema = options.pop("schema", None) or tenant_connection.schema_name
        if schema == "public":
            raise RuntimeError(f"{self.name} must be enqueued inside a customer's schema")
        headers = dict(options.pop("headers", None) or {})
        headers[SCHEMA_HEADER] = schema
        return super().apply_async(args, kwargs, headers=headers, **options)

    def _schema_from_request(self) -> str:
        schema = getattr(self.request, SCHEMA_HEADER, None)
        if schema is None:
            schema = (getattr(self.request, "headers", None) or {}).get(SCHEMA_HEADER)
        if schema is None:  # called directly, not through the broker
            schema = tenant_connection.schema_name
        return str(schema)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tenants.models import Customer
        from tenants.schema import customer_schema

        schema = self._schema_from_request()
        customer = Customer.objects.get(schema_name=schema)
        # customer_schema restores what was active before: public on a worker, the caller's
        # schema when a test or a command calls the task directly.
        with job_context(self.name), customer_schema(customer):
            return self.run(*args, **kwargs)
