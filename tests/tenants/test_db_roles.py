"""The application's database role (tenants/roles.py): a real LOGIN role of the test server,
granted by ``app_role_grant`` on the committed test database, used over its own connections.

Roles are cluster-wide and other sessions share the server, so the role's name is random and
it is dropped at the end (with everything granted to it in this database).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import yaml
from django.db import connection
from psycopg import errors, sql

from tenants.cloning import TemplateChanged
from tenants.models import Customer
from tenants.roles import UnsuitableRole, app_role_grant
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import Cast
from tests.support import processes

APP_ROLE_SCRIPT = "./docker/postgres-app-role.sh"


@pytest.fixture(scope="module")
def app_role(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    role = f"sf_app_test_{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)).as_string(None))
        try:
            app_role_grant(role=role)
            app_role_grant(role=role)  # idempotent: a second deploy changes nothing
            yield role
        finally:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
                )
                for statement in ("DROP OWNED BY {}", "DROP ROLE {}"):
                    cursor.execute(sql.SQL(statement).format(sql.Identifier(role)).as_string(None))


def _database_url(role: str) -> str:
    db = connection.settings_dict
    return f"postgresql://{role}@127.0.0.1:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def as_app(app_role: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection as the application role, in a transaction rolled back at the end."""
    with psycopg.connect(_database_url(app_role)) as conn:
        yield conn
        conn.rollback()


def _refused(conn: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
        conn.execute(statement)


def test_the_role_reads_and_writes_a_customers_tickets(cast: Cast, as_app: psycopg.Connection[Any]) -> None:
    schema = cast.acme.schema_name
    as_app.execute(f"SET search_path TO {schema}, public")
    as_app.execute("SELECT count(*) FROM tickets_ticket").fetchone()
    as_app.execute("UPDATE tickets_ticket SET subject = subject WHERE id < 0")
    as_app.execute("DELETE FROM tickets_comment WHERE id < 0")
    as_app.execute("SELECT count(*) FROM public.tenants_customer").fetchone()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE c_acme.intruder (id int)",
        "CREATE TABLE public.intruder (id int)",
        "CREATE TABLE customer_template.intruder (id int)",
        "ALTER TABLE c_acme.tickets_ticket ADD COLUMN intruder int",
        "ALTER TABLE public.tenants_customer DROP COLUMN name",
        "DROP TABLE c_acme.tickets_ticket",
        "CREATE SCHEMA intruder",
        "DROP SCHEMA c_acme CASCADE",
        "TRUNCATE c_acme.tickets_ticket CASCADE",
        "ALTER TABLE c_acme.audit_auditentry DISABLE TRIGGER audit_guard",
        "CREATE INDEX intruder ON c_acme.tickets_ticket (id)",
        "INSERT INTO c_acme.django_migrations (app, name, applied) VALUES ('x', 'y', now())",
    ],
)
def test_the_role_cannot_change_the_schema(
    cast: Cast, as_app: psycopg.Connection[Any], statement: str
) -> None:
    _refused(as_app, statement)


@pytest.mark.parametrize("schema", ["public", "c_acme"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {s}.audit_auditentry SET object_repr = 'forged'",
        "DELETE FROM {s}.audit_auditentry",
        "TRUNCATE {s}.audit_auditentry CASCADE",
        "UPDATE {s}.audit_auditseal SET hash = 'forged'",
        "DELETE FROM {s}.audit_auditseal",
        "INSERT INTO {s}.audit_auditseal (seq, entry_id, prev_hash, hash) VALUES (1000000, 1, 'x', 'y')",
        "UPDATE {s}.audit_audithead SET seq = 0",  # UPDATE is the seal trigger's: audit_guard refuses
        "DELETE FROM {s}.audit_audithead",
        "TRUNCATE {s}.audit_audithead",
    ],
)
def test_the_role_cannot_change_audit_rows(
    cast: Cast, as_app: psycopg.Connection[Any], schema: str, statement: str
) -> None:
    reading = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "audit_auditentry"))
    as_app.execute(reading).fetchone()  # reading is fine
    _refused(as_app, statement.format(s=schema))


def test_the_role_cannot_read_other_roles_secrets(cast: Cast, as_app: psycopg.Connection[Any]) -> None:
    _refused(as_app, "SELECT rolpassword FROM pg_authid")
    with connection.cursor() as cursor:  # the owner's session, which has run queries
        cursor.execute("SELECT pg_backend_pid()")
        owner_pid = cursor.fetchone()[0]
    row = as_app.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [owner_pid]).fetchone()
    assert row is not None and row[0] == "<insufficient privilege>"


def test_the_role_analyzes_public_tables_through_the_owners_function(
    cast: Cast, as_app: psycopg.Connection[Any]
) -> None:
    """``core.statistics.analyze_after_commit`` as the application role."""
    as_app.execute("SELECT public.serviflow_analyze(%s)", [["tenants_customer", "tenants_customersettings"]])
    with pytest.raises(errors.UndefinedTable), as_app.transaction():
        as_app.execute("SELECT public.serviflow_analyze(%s)", [["pg_authid"]])


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("c_nobody_registered", "no customer row"),
        ("public", "not a customer schema name"),
        ("c_x; DROP SCHEMA c_acme", "not a customer schema name"),
        ("C_ACME", "not a customer schema name"),
    ],
)
def test_the_clone_function_creates_only_a_registered_customers_schema(
    cast: Cast, as_app: psycopg.Connection[Any], schema: str, message: str
) -> None:
    with pytest.raises(errors.InvalidSchemaName, match=message), as_app.transaction():
        as_app.execute("SELECT public.serviflow_clone_template(%s)", [schema])


def test_a_stale_clone_function_refuses(cast: Cast, actor: None) -> None:
    """The template migrated without sync_platform (rolled back with the test)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customer_template.django_migrations (app, name, applied) VALUES ('x', 'y', now())"
        )
    with pytest.raises(TemplateChanged, match="sync_platform"):
        customer_provision(name="Stale", slug="stale-template")


def test_the_role_cannot_create_temporary_tables(cast: Cast, as_app: psycopg.Connection[Any]) -> None:
    """A trigger of its own on one would run inside the seal trigger's depth and pass audit_guard."""
    _refused(as_app, "CREATE TEMP TABLE intruder (id int)")


def test_an_unrestricted_role_is_refused(cast: Cast) -> None:
    with pytest.raises(UnsuitableRole, match="superuser"):
        app_role_grant(role=connection.settings_dict["USER"] or "postgres")
    with pytest.raises(UnsuitableRole, match="does not exist"):
        app_role_grant(role=f"sf_missing_{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize("grant", ["GRANT pg_read_all_data TO {role}", "ALTER ROLE {role} REPLICATION"])
def test_a_role_that_reads_everything_or_replicates_is_refused(cast: Cast, grant: str) -> None:
    """Rolled back with the test, role and all."""
    role = f"Sf_Reader_{uuid.uuid4().hex[:8]}"  # mixed case: looked up by its exact name
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)).as_string(None))
        cursor.execute(sql.SQL(grant).format(role=sql.Identifier(role)).as_string(None))
    with pytest.raises(UnsuitableRole, match="would not be restricted"):
        app_role_grant(role=role)


_PRODUCT_RUN = """
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tickets.workflows import NewTicket, ticket_create

with job_context("tests.app_role"):
    customer = customer_provision(name="Roles", slug="{slug}")
    with customer_schema(customer):
        profile = customer_user_create(
            customer=customer,
            fields=CustomerUserFields(email="user@{slug}.test", name="user", role="user"),
            password="quiz-jukebox-vivid-glyph-zynq",
        )
        new = NewTicket(subject="Filed as the app role")
        ticket = ticket_create(customer=customer, by=profile.user, new=new)
print(ticket.pk)
"""


def test_the_product_runs_as_the_role(cast: Cast, app_role: str, celery_queue: str) -> None:
    """manage.py as the application role (it commits): a new customer through the clone
    function, then one of its users and a ticket in its fresh schema."""
    slug = f"roles-{uuid.uuid4().hex[:8]}"
    env = {**processes.process_env(CELERY_QUEUE=celery_queue), "DATABASE_URL": _database_url(app_role)}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", _PRODUCT_RUN.format(slug=slug)],
        cwd=processes.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    customer = Customer.objects.get(slug=slug)
    with customer_schema(customer), connection.cursor() as cursor:
        cursor.execute("SELECT subject FROM tickets_ticket WHERE id = %s", [int(result.stdout.split()[-1])])
        assert cursor.fetchone() == ("Filed as the app role",)
        cursor.execute(
            "SELECT has_table_privilege(%(role)s, 'tickets_ticket', 'UPDATE'),"
            " has_table_privilege(%(role)s, 'audit_auditentry', 'UPDATE')",
            {"role": app_role},
        )
        assert cursor.fetchone() == (True, False)  # the template's grants, copied


def test_compose_migrates_as_the_owner_and_serves_as_the_application_role() -> None:
    compose = yaml.safe_load((processes.ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    owner = services["migrate"]["environment"]
    # Not POSTGRES_USER (a superuser): the owner's SECURITY DEFINER functions would run as one.
    assert owner["DATABASE_URL"].startswith("postgres://serviflow_owner:")
    assert services["postgres"]["environment"]["POSTGRES_USER"] != "serviflow_owner"
    assert owner["DATABASE_APP_ROLE"] == "serviflow_app"
    for name in ("web", "worker", "beat", "mail"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://serviflow_app:"), name
        assert "DATABASE_APP_ROLE" not in environment, name
    assert any(
        volume.startswith(f"{APP_ROLE_SCRIPT}:/docker-entrypoint-initdb.d/")
        for volume in services["postgres"]["volumes"]
    )
    script = (processes.ROOT / APP_ROLE_SCRIPT).read_text()
    for statement in (
        "CREATE ROLE serviflow_owner LOGIN",
        'ALTER DATABASE :"db" OWNER TO serviflow_owner',
        "ALTER SCHEMA public OWNER TO serviflow_owner",
        "CREATE ROLE serviflow_app LOGIN",
    ):
        assert statement in script
