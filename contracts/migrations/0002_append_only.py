"""Time entries and the prepaid ledger stay as written: corrections are new entries."""

from django.db import migrations

TABLES = ["contracts_timeentry", "contracts_prepaidentry"]

FORWARD = """
CREATE FUNCTION contracts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (a correction is a new entry)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
""" + "".join(
    f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION contracts_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION contracts_append_only();
"""
    for table in TABLES
)

BACKWARD = "".join(
    f"DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
    for table in TABLES
) + "DROP FUNCTION contracts_append_only();"


class Migration(migrations.Migration):
    dependencies = [("contracts", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
