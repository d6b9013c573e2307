"""Background jobs and schemas.

``TenantTask``: enqueued inside a customer's schema, it carries the schema name in a message
header and runs inside that schema on the worker (under its job identity, ``audit.jobs``).
Every task, whatever its base, ends on the public schema (``back_to_public`` below), so the next
task on that worker process starts clean even if one forgot to leave a schema.
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun
from django.db import close_old_connections

from audit.context import job_context
from audit.jobs import JobTask
from tenants.schema import public_schema_restore, tenant_connection

SCHEMA_HEADER = "serviflow_schema"


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
        # with its settings: most tasks name tickets, whose numbers carry the customer's prefix
        customer = Customer.objects.select_related("settings").get(schema_name=schema)
        # customer_schema restores what was active before: public on a worker, the caller's
        # schema when a test or a command calls the task directly.
        with job_context(self.name), customer_schema(customer):
            return self.run(*args, **kwargs)


@task_postrun.connect(dispatch_uid="tenants.jobs.back_to_public")
def back_to_public(**kwargs: Any) -> None:
    """After every task: the worker's connection is back on the public schema."""
    public_schema_restore()


@task_postrun.connect(dispatch_uid="tenants.jobs.hand_back_connection")
def hand_back_connection(sender: Any = None, **kwargs: Any) -> None:
    """After every task a worker ran, its database connection goes back to the process's pool
    (a broken one is closed), as at the end of a request: Celery's own clean-up, which would
    close the whole pool, runs only now and then (``CELERY_DB_REUSE_MAX`` in settings). An
    eager task ran on its caller's connection, which stays the caller's."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
