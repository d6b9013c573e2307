"""The small dataset the backup test dumps and restores, written (and committed) by a process of
its own against ``DATABASE_URL``: two customers, each with a user, tickets and replies (and so
audit entries in each customer's chain and index rows in the public schema).

    python -m tests.backups.dataset SLUG [SLUG ...]
"""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")
django.setup()

from accounts.services import AgentFields, agent_create  # noqa: E402
from audit.context import job_context  # noqa: E402
from people.services import CustomerUserFields, customer_user_create  # noqa: E402
from tenants.schema import customer_schema  # noqa: E402
from tenants.services import customer_provision  # noqa: E402
from tickets.workflows import NewTicket, comment_add, ticket_create  # noqa: E402

TICKETS = 3


def main(slugs: list[str]) -> None:
    with job_context("tests.backups"):
        agent = agent_create(
            fields=AgentFields(email=f"agent@{slugs[0]}.backup.test", name="Agent", all_customers=True),
            password=None,
        )
        for slug in slugs:
            customer = customer_provision(name=slug.title(), slug=slug)
            with customer_schema(customer):
                requester = customer_user_create(
                    customer=customer,
                    fields=CustomerUserFields(email=f"user@{slug}.test", name="User"),
                    password=None,
                )
                for n in range(TICKETS):
                    ticket = ticket_create(
                        customer=customer,
                        by=None,
                        new=NewTicket(
                            subject=f"{slug} ticket {n}", description="Broken", requester=requester
                        ),
                    )
                    comment_add(customer=customer, ticket=ticket, by=agent, body=f"Looking at {slug} {n}")


if __name__ == "__main__":
    main(sys.argv[1:])
