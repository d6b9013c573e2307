"""``manage.py audit_verify [--against FILE] [--chain NAME]``: re-hash every audit chain (the
public schema's and each customer's) and name the first bad entry of each; with ``--against``,
also check that each chain still reaches the heads published earlier (lines of the log or of
``GET /api/v1/audit/heads/``, each signed). Exit status 1 when a chain fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import chain


class Command(BaseCommand):
    help = "Verify the audit hash chains (and, with --against, that they reach recorded heads)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--against", type=Path, help="a file of published heads (JSON lines or log lines)"
        )
        parser.add_argument("--chain", help="one chain (schema name) only")

    def handle(self, *args: Any, **options: Any) -> None:
        recorded: dict[str, chain.Head] = {}
        if options["against"] is not None:
            try:
                with options["against"].open(encoding="utf-8") as lines:
                    recorded = chain.recorded_heads(lines)
            except (OSError, chain.BadRecord) as exc:
                raise CommandError(f"{options['against']}: {exc}") from exc
        names = chain.chains()
        if options["chain"]:
            if options["chain"] not in names:
                raise CommandError(f"no audit chain named {options['chain']!r}")
            names = [options["chain"]]
        missing = sorted(set(recorded) - set(names)) if not options["chain"] else []
        bad = 0
        for name in names:
            verdict = chain.verify(name, against=recorded.get(name))
            if verdict.ok:
                self.stdout.write(f"ok   {name}: {verdict.entries} entries")
                continue
            bad += 1
            where = f"entry {verdict.first_bad}" if verdict.first_bad is not None else "no entry"
            self.stdout.write(f"BAD  {name}: {where} (seq {verdict.first_bad_seq}): {verdict.problem}")
        for name in missing:
            bad += 1
            self.stdout.write(f"BAD  {name}: a recorded chain that no longer exists")
        if bad:
            raise CommandError(f"{bad} of {len(names) + len(missing)} audit chains failed verification")
