from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import job_context
from core.parsers import parse_int
from tenants.migrating import (
    Migrated,
    SchemaMigrationFailed,
    customer_batches,
    migrate_in_batches,
    migrate_template,
)


def _whole(option: str, *, minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            return parse_int(value, field=option, minimum=minimum, maximum=maximum)
        except ValidationError as exc:  # argparse names the option in its usage error
            raise ArgumentTypeError(" ".join(exc.messages)) from None

    return parse


class Command(BaseCommand):
    help = (
        "Migrate the provisioning template, then every customer schema in batches, each schema in "
        "one transaction under a lock timeout; resumable with --from. Run it while the previous "
        "version serves (README: Schema changes without downtime)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=_whole("--batch-size", minimum=1, maximum=100_000), default=50
        )
        parser.add_argument(
            "--pause",
            type=_whole("--pause", minimum=0, maximum=3600),
            default=0,
            help="Seconds to wait between two batches (lets the database catch up with traffic).",
        )
        parser.add_argument(
            "--from",
            dest="start",
            default="",
            metavar="SCHEMA",
            help="Start at this customer schema (name order): what a stopped run printed.",
        )
        parser.add_argument(
            "--lock-timeout",
            type=_whole("--lock-timeout", minimum=1, maximum=600),
            default=5,
            help="Seconds a schema waits for a lock on its tables before the attempt is rolled back "
            "and retried (3 attempts).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        current: list[Migrated] = []
        with job_context("manage.migrate_customers"):
            try:
                template = migrate_template(lock_timeout_s=options["lock_timeout"])
                self.stdout.write(f"template {template.schema}: {template.applied} migrations applied")
                # Listed only now: a customer provisioned before the template's commit is included.
                batches = customer_batches(size=options["batch_size"], start=options["start"].strip())
                total = sum(len(batch) for batch in batches)
                self.stdout.write(f"Then {total} customer schemas in {len(batches)} batches.")
                for result in migrate_in_batches(
                    batches, pause_s=options["pause"], lock_timeout_s=options["lock_timeout"]
                ):
                    if int(options["verbosity"]) > 1:
                        self.stdout.write(
                            f"  {result.schema}: {result.applied} applied, {result.seconds:.2f} s"
                        )
                    current.append(result)
                    if len(current) == len(batches[result.batch - 1]):
                        self._batch_done(current, len(batches))
                        current = []
            except SchemaMigrationFailed as failed:
                raise CommandError(
                    f"stopped at {failed}\n{failed.schema} was left as it was (its transaction was "
                    f"rolled back); schemas before it are migrated. Fix the cause, then resume with: "
                    f"manage.py migrate_customers --from {failed.schema}"
                ) from failed
        self.stdout.write(self.style.SUCCESS(f"Migrated the template and {total} customer schemas."))

    def _batch_done(self, results: list[Migrated], batches: int) -> None:
        slowest = max(results, key=lambda r: r.seconds)
        retried = sum(r.attempts - 1 for r in results)
        self.stdout.write(
            f"batch {results[0].batch}/{batches}: {results[0].schema} .. {results[-1].schema}, "
            f"{len(results)} schemas, {sum(r.applied for r in results)} migrations applied, "
            f"{sum(r.seconds for r in results):.1f} s (slowest {slowest.schema} {slowest.seconds:.2f} s"
            f"{f', {retried} lock retries' if retried else ''})"
        )
