"""The replica scenario, run by ``test_replica.py`` as a process of its own with
``DATABASE_URL`` on a primary and ``DATABASE_REPLICA_URL`` on its streaming standby (so that
settings, the pools and the router are the deployed ones). It prints one JSON object of what it
saw: which server ran each statement, and what the pages and the reports answered. The test
judges it.

    python -m tests.replica.scenario
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")
django.setup()

import psycopg  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.services import AgentFields, agent_create, token_issue  # noqa: E402
from audit.chain import verify  # noqa: E402
from audit.context import job_context  # noqa: E402
from contracts.services import local_today  # noqa: E402
from people.services import CustomerUserFields, customer_user_create  # noqa: E402
from reports.figures import monthly_figures  # noqa: E402
from reports.issuing import report_issue  # noqa: E402
from reports.service import service_report  # noqa: E402
from tenants.models import Customer  # noqa: E402
from tenants.replica import REPLICA, replica_reads  # noqa: E402
from tenants.schema import customer_schema  # noqa: E402
from tenants.services import customer_provision  # noqa: E402
from tickets.models import Ticket  # noqa: E402
from tickets.workflows import NewTicket, ticket_create  # noqa: E402

STANDBY = os.environ["DATABASE_REPLICA_URL"]
Ran = list[tuple[str, str]]


@contextmanager
def statements() -> Iterator[Ran]:
    """(alias, verb) of every statement both connections of this thread run in the block; the
    replica's lag check (``tenants.replica``) is ``CHECK``."""
    ran: Ran = []

    def recorder(alias: str) -> Callable[..., Any]:
        def record(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
            text = str(sql)
            ran.append((alias, "CHECK" if "_lsn()" in text else text.split(None, 1)[0].upper()))
            return execute(sql, params, many, context)

        return record

    with ExitStack() as stack:
        for alias in ("default", REPLICA):
            stack.enter_context(connections[alias].execute_wrapper(recorder(alias)))
        yield ran


def reads_on(ran: Ran) -> dict[str, int]:
    found: dict[str, int] = {}
    for alias, verb in ran:
        if verb in {"SELECT", "WITH"}:
            found[alias] = found.get(alias, 0) + 1
    return found


def writes_on(ran: Ran) -> dict[str, int]:
    found: dict[str, int] = {}
    for alias, verb in ran:
        if verb in {"INSERT", "UPDATE", "DELETE"}:
            found[alias] = found.get(alias, 0) + 1
    return found


def standby(statement: str) -> Any:
    with psycopg.connect(STANDBY, autocommit=True) as conn:
        row = conn.execute(statement).fetchone()
        return row[0] if row else None


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        time.sleep(0.1)


def caught_up() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (written,) = cursor.fetchone()
    return bool(standby(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn"))


def main() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    with job_context("tests.replica"):
        customer = customer_provision(name="Replica Co", slug="replica-co")
        admin = agent_create(
            fields=AgentFields(email="admin@replica.test", name="Admin", is_admin=True), password=None
        )
        _, token = token_issue(user=admin, name="replica")
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email="user@replica-co.test", name="User"),
                password=None,
            )
            with statements() as ran:
                for n in range(3):
                    ticket_create(
                        customer=customer,
                        by=None,
                        new=NewTicket(subject=f"Printer {n}", requester=requester),
                    )
            facts["ticket_writes"] = writes_on(ran)
    month = local_today(customer).replace(day=1)
    month_text = f"{month:%Y-%m}"
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    wait_until(caught_up, "the standby has replayed the primary's writes")

    with connections[REPLICA].cursor() as cursor:  # the replica's connection is the standby's
        cursor.execute("SELECT pg_is_in_recovery()")
        facts["replica_in_recovery"] = cursor.fetchone()[0]

    # Caught up: the report's figures and detail come from the standby.
    with statements() as ran, replica_reads():
        report = service_report(customer, month)
        figures = monthly_figures([customer], month)[customer.pk]
    facts["caught_up"] = {
        "reads": reads_on(ran),
        "tickets_created": figures["tickets_created"],
        "report_tickets": sum(week["tickets"] for week in report["tickets_per_week"]),
    }
    with statements() as ran:
        answer = api.get(f"/api/v1/reports/customers/{customer.slug}/{month_text}/")
    facts["report_api"] = {"status": answer.status_code, "reads": reads_on(ran)}
    with statements() as ran:
        answer = api.get(f"/api/v1/reports/customers/?month={month_text}&format=csv")
        body = b"".join(answer.streaming_content).decode()  # type: ignore[attr-defined]
    facts["figures_csv"] = {"status": answer.status_code, "reads": reads_on(ran), "rows": body.count("\n")}

    with statements() as ran:  # outside a block nothing reads the standby, even caught up
        answer = api.get(f"/api/v1/customers/{customer.slug}/tickets/")
    facts["caught_up_tickets_api"] = {"status": answer.status_code, "reads": reads_on(ran)}

    # Issuing reads and writes the primary only, even inside a block: its figures are frozen for
    # good, so a lagging standby must not supply them.
    with job_context("tests.replica"), statements() as ran, replica_reads():
        issued = report_issue(customer=customer, month=month, by=admin)
    facts["issue"] = {"reads": reads_on(ran), "writes": writes_on(ran), "version": issued.version}
    facts["chain"] = verify(customer.schema_name).ok

    # The standby stops replaying; the primary takes a new ticket.
    standby("SELECT pg_wal_replay_pause()")
    wait_until(lambda: standby("SELECT pg_get_wal_replay_pause_state()") == "paused", "replay is paused")
    with job_context("tests.replica"), customer_schema(customer):
        late = ticket_create(customer=customer, by=None, new=NewTicket(subject="Late", requester=requester))
    table = f'"{customer.schema_name}".{Ticket._meta.db_table}'
    facts["standby_has_late"] = standby(f"SELECT count(*) FROM {table} WHERE id = {late.pk}")  # noqa: S608
    time.sleep(float(os.environ["REPLICA_MAX_LAG_SECONDS"]) + 0.5)  # its last replayed commit ages

    # A lagging standby serves nothing: the ticket's pages and API read the primary, and so do
    # the reports (the new ticket is counted).
    with statements() as ran:
        ticket_api = api.get(f"/api/v1/customers/{customer.slug}/tickets/{late.pk}/")
        queue = api.get("/api/v1/tickets/")
    facts["lagging_ticket_api"] = {
        "status": ticket_api.status_code,
        "subject": ticket_api.json().get("subject"),
        "in_queue": any(row["id"] == late.pk for row in queue.json()["results"]),
        "reads": reads_on(ran),
    }
    page = Client(HTTP_HOST="localhost")
    page.force_login(admin)
    with statements() as ran:
        ticket_page = page.get(f"/customers/{customer.slug}/tickets/{late.pk}/")
    facts["lagging_ticket_page"] = {
        "status": ticket_page.status_code,
        "shows_subject": b"Late" in ticket_page.content,
        "reads": reads_on(ran),
    }
    with statements() as ran, replica_reads():
        figures = monthly_figures([customer], month)[customer.pk]
    facts["lagging_report"] = {"reads": reads_on(ran), "tickets_created": figures["tickets_created"]}
    with statements() as ran:
        answer = api.get(f"/api/v1/reports/customers/?month={month_text}")
    facts["lagging_report_api"] = {
        "status": answer.status_code,
        "reads": reads_on(ran),
        "tickets_created": next(
            row["tickets_created"] for row in answer.json()["results"] if row["customer"] == customer.slug
        ),
    }

    # Replay resumes: once caught up, the reports read the standby again.
    standby("SELECT pg_wal_replay_resume()")
    wait_until(caught_up, "the standby has caught up again")
    with statements() as ran, replica_reads():
        figures = monthly_figures([customer], month)[customer.pk]
    facts["resumed"] = {"reads": reads_on(ran), "tickets_created": figures["tickets_created"]}
    facts["customers"] = Customer.objects.customers().count()
    return facts


if __name__ == "__main__":
    print(json.dumps(main()))
