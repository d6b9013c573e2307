"""Not a benchmark (its name starts with ``_``): the database every smoke run starts from.

``python3 dev.py bench --smoke`` runs ``create`` before the smoke runs and ``drop`` after them.
``create`` makes the bench database's name + ``_tpl`` on the server of DATABASE_URL, migrates it
(``sync_platform``, in a process of its own, so no connection to it stays open) and prints its
name; each smoke run's bench database is then a copy of it (``provision.in_bench_database``), so
the run's own ``sync_platform`` finds nothing to migrate instead of taking some 15 seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Taken off the command line first: importing provision parses it (its sizes depend on --smoke).
ACTION = sys.argv.pop(1) if len(sys.argv) > 1 else ""
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision import ROOT, bench_database_name, recreate_database, with_database  # noqa: E402


def template_name() -> tuple[str, str]:
    from serviflow import embedded

    source_url = os.environ.get("DATABASE_URL") or embedded.postgres_url()
    return bench_database_name(source_url)[:59] + "_tpl", source_url


def main(action: str) -> int:
    name, source_url = template_name()
    admin_url = with_database(source_url, "postgres")
    recreate_database(admin_url, name, create=action == "create")
    if action == "create":
        env = os.environ | {"DATABASE_URL": with_database(source_url, name)}
        migrate = [sys.executable, "manage.py", "sync_platform", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True)
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(ACTION))
