from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from audit.context import job_context
from tenants.platform import ensure_public_tenant, ensure_template_tenant, sync_customer_domains
from tenants.roles import app_role_grant


class Command(BaseCommand):
    help = (
        "Migrate the public schema, make sure the console and the provisioning template exist, "
        "then migrate every customer schema and grant the application role (DATABASE_APP_ROLE). "
        "Run as the owner role. Safe to run on every deploy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider-name", help="Name of the MSP shown in the console.")
        parser.add_argument(
            "--executor",
            default="standard",
            choices=["standard", "multiprocessing"],
            help="django-tenants migration executor for the customer schemas.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        with job_context("manage.sync_platform"):
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
            ensure_public_tenant(provider_name=options.get("provider_name"))
            ensure_template_tenant(verbosity=verbosity)
            call_command(
                "migrate_schemas",
                tenant=True,
                interactive=False,
                verbosity=verbosity,
                executor=options["executor"],
            )
            moved = sync_customer_domains()
        granted = ""
        if settings.DATABASE_APP_ROLE:
            schemas = app_role_grant(role=settings.DATABASE_APP_ROLE)
            granted = f"; {settings.DATABASE_APP_ROLE} granted on {schemas} schemas"
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(f"Platform in sync ({moved} portal domains updated{granted}).")
            )
