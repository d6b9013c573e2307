"""The pool row and the ledger's triggers: entries keep the balance, and stay as written."""

from django.db import migrations

LEDGER = ["billing_daypasspurchase", "billing_daypassconsumption", "billing_daypassexpiry"]

FORWARD = """
INSERT INTO billing_daypasspool (id, balance, purchased, consumed) VALUES (1, 0, 0, 0)
    ON CONFLICT (id) DO NOTHING;

CREATE FUNCTION billing_pool_purchase() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE billing_daypasspool
       SET balance = balance + NEW.quantity, purchased = purchased + NEW.quantity
     WHERE id = 1;
    RETURN NEW;
END $$;

CREATE FUNCTION billing_pool_consumption() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the pool's CHECK (balance >= 0) refuses the last step below zero, and with it the entry
    UPDATE billing_daypasspool SET balance = balance - 1, consumed = consumed + 1 WHERE id = 1;
    RETURN NEW;
END $$;

CREATE FUNCTION billing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the day-pass ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER billing_purchase_feeds_pool AFTER INSERT ON billing_daypasspurchase
    FOR EACH ROW EXECUTE FUNCTION billing_pool_purchase();
CREATE TRIGGER billing_consumption_draws_pool AFTER INSERT ON billing_daypassconsumption
    FOR EACH ROW EXECUTE FUNCTION billing_pool_consumption();
""" + "".join(
    f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_append_only();
"""
    for table in LEDGER
)

BACKWARD = "".join(
    f"DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
    for table in LEDGER
) + """
DROP TRIGGER billing_purchase_feeds_pool ON billing_daypasspurchase;
DROP TRIGGER billing_consumption_draws_pool ON billing_daypassconsumption;
DROP FUNCTION billing_ledger_append_only();
DROP FUNCTION billing_pool_consumption();
DROP FUNCTION billing_pool_purchase();
DELETE FROM billing_daypasspool;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
