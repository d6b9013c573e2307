from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AgentFields, agent_create
from audit.context import job_context


class Command(BaseCommand):
    help = "Create a provider admin (the first person of a real deployment). Prompts for what is missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email")
        parser.add_argument("--password")
        parser.add_argument("--name")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"] or self._ask("Email: ")
        name = options["name"] or self._ask("Name: ", default=email.split("@")[0])
        password = options["password"]
        if not password:
            if not sys.stdin.isatty():
                raise CommandError("--password is required when not running interactively.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            with job_context("manage.create_provider_admin"):
                admin = agent_create(
                    fields=AgentFields(email=email, name=name, is_admin=True, timezone=options["timezone"]),
                    password=password,
                )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems) from None
        self.stdout.write(self.style.SUCCESS(f"Provider admin {admin.email} created."))

    def _ask(self, prompt: str, default: str = "") -> str:
        if not sys.stdin.isatty():
            if default:
                return default
            raise CommandError(f"{prompt.strip(': ')} is required when not running interactively.")
        value = input(prompt).strip()
        return value or default
