"""Reports and exports read a real streaming replica; ticket pages never do (issue 20).

A primary of the test's own (initdb of the embedded PostgreSQL, ``wal_level=replica``, on a free
port) gets the test database (pg_dump and pg_restore: about a second, where migrating an empty
database takes over 20), a standby is made of it with ``pg_basebackup -R`` and started hot, and
``scenario.py`` runs as a process of its own against both (``DATABASE_URL`` and
``DATABASE_REPLICA_URL``): tickets written, report figures read inside ``replica_reads()``,
then replay paused on the standby while the primary takes a new ticket.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.support import postgres, processes


def test_reports_read_the_replica_and_a_lagging_one_serves_nothing(
    django_db_setup: None, tmp_path: Path
) -> None:
    started = time.monotonic()
    with postgres.unconsumed_queue("replica") as queue, postgres.servers() as servers:
        primary = servers.primary()
        postgres.copy_database(
            processes.test_database_url(), primary.url(), tmp_path, postgres.embedded_bin()
        )
        copied = time.monotonic()
        standby = servers.standby(primary)
        replicated = time.monotonic()
        env = processes.process_env(
            CELERY_QUEUE=queue, REPLICA_MAX_LAG_SECONDS="1", REPLICA_CHECK_SECONDS="0", DB_POOL_MAX_SIZE="2"
        )
        env |= {"DATABASE_URL": primary.url(), "DATABASE_REPLICA_URL": standby.url()}
        said = postgres.run_in_project([sys.executable, "-m", "tests.replica.scenario"], env, timeout=300)
    print(
        f"primary and database {copied - started:.1f} s, standby {replicated - copied:.1f} s,"
        f" scenario and clean-up {time.monotonic() - replicated:.1f} s"
    )
    facts = json.loads(said.strip().splitlines()[-1])

    assert facts["ticket_writes"].keys() == {"default"}
    assert facts["replica_in_recovery"] is True
    # Caught up: the figures and the report's detail were read on the standby alone.
    caught_up = facts["caught_up"]
    assert caught_up["reads"].get("replica", 0) > 5 and "default" not in caught_up["reads"], caught_up
    assert caught_up["tickets_created"] == caught_up["report_tickets"] == 3
    assert facts["report_api"]["status"] == 200 and facts["report_api"]["reads"].get("replica", 0) > 5
    assert facts["figures_csv"]["status"] == 200 and facts["figures_csv"]["reads"].get("replica", 0) > 0
    assert facts["caught_up_tickets_api"]["status"] == 200
    assert facts["caught_up_tickets_api"]["reads"].keys() == {"default"}
    # Issuing inside a block: its figures, every write and the reads of its transaction on the
    # primary, and the customer's chain holds.
    issue = facts["issue"]
    assert issue["reads"].keys() == {"default"} and issue["writes"].keys() == {"default"}, issue
    assert issue["version"] == 1 and facts["chain"] is True

    # Paused: the standby does not have the late ticket, and nobody reads it from there.
    assert facts["standby_has_late"] == 0
    for seen in ("lagging_ticket_api", "lagging_ticket_page"):
        assert facts[seen]["status"] == 200 and "replica" not in facts[seen]["reads"], facts[seen]
    assert facts["lagging_ticket_api"]["subject"] == "Late" and facts["lagging_ticket_api"]["in_queue"]
    assert facts["lagging_ticket_page"]["shows_subject"]
    for seen in ("lagging_report", "lagging_report_api"):
        assert "replica" not in facts[seen]["reads"] and facts[seen]["tickets_created"] == 4, facts[seen]
    # Caught up again: back on the standby, which now has it.
    assert facts["resumed"]["reads"].keys() == {"replica"} and facts["resumed"]["tickets_created"] == 4
