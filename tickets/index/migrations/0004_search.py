import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
import tickets.index.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0002_email_domains'),
        ('ticket_index', '0003_queue_sla_views'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Trusted extensions (PostgreSQL 13+): the database owner may create them. Debian's
        # postgresql-NN package and the embedded PostgreSQL 18 both ship them (pg_trgm: for
        # near-miss matching, not used by the search yet).
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;"
            " CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;",
            reverse_sql=migrations.RunSQL.noop,
        ),
        # Words as written, accents taken off ("réseau" = "reseau"), no language's stemming.
        migrations.RunSQL(
            "CREATE TEXT SEARCH CONFIGURATION public.sf_search (COPY = pg_catalog.simple);"
            " ALTER TEXT SEARCH CONFIGURATION public.sf_search"
            " ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, hword, hword_part, word"
            " WITH public.unaccent, pg_catalog.simple;",
            reverse_sql="DROP TEXT SEARCH CONFIGURATION public.sf_search;",
        ),
        migrations.CreateModel(
            name='TicketSearchEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ticket_id', models.BigIntegerField(help_text="The ticket's id inside its customer's schema.")),
                ('number', models.PositiveIntegerField(help_text="The ticket's number (1042 of ACME-1042).")),
                ('subject', models.CharField(max_length=200)),
                ('public_text', models.TextField(blank=True, help_text='The description and the public replies, oldest first.')),
                ('private_text', models.TextField(blank=True, help_text='The private notes, oldest first.')),
                ('public_vector', models.GeneratedField(db_persist=True, expression=tickets.index.models.Joined(tickets.index.models.Words('subject', weight='A'), tickets.index.models.Words('public_text', weight='B')), output_field=django.contrib.postgres.search.SearchVectorField())),
                ('private_vector', models.GeneratedField(db_persist=True, expression=tickets.index.models.Words('private_text', weight='C'), output_field=django.contrib.postgres.search.SearchVectorField())),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.customer')),
                ('requester_user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'ticket_search',
                'indexes': [django.contrib.postgres.indexes.GinIndex(fields=['public_vector'], name='ticket_search_public'), django.contrib.postgres.indexes.GinIndex(fields=['private_vector'], name='ticket_search_private'), models.Index(fields=['customer', 'number'], name='ticket_search_number'), models.Index(fields=['customer', '-id'], name='ticket_search_customer_newest')],
                'constraints': [models.UniqueConstraint(fields=('customer', 'ticket_id'), name='ticket_search_one_row_per_ticket')],
            },
        ),
        # A rare word must look rare to the planner (it then reads the GIN indexes, and walks the
    # rows newest first for a common one): statistics of 10,000 words per vector, not 1,000.
    migrations.RunSQL(
        "ALTER TABLE ticket_search ALTER COLUMN public_vector SET STATISTICS 1000,"
        " ALTER COLUMN private_vector SET STATISTICS 1000;",
        reverse_sql=migrations.RunSQL.noop,
    ),
    ]
