#!/bin/sh
# Run by the postgres image once, when it initialises a new data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml). POSTGRES_USER is a superuser: it only runs
# this. It creates the two roles ServiFlow connects as (README "Database roles"):
# - serviflow_owner, no superuser, owns the database and its public schema: `manage.py
#   sync_platform` (the migrate service) connects as it, so the SECURITY DEFINER functions it makes
#   run with its rights, not a superuser's. The extensions the migrations create (unaccent, pg_trgm)
#   are trusted: the database owner may create them.
# - serviflow_app, owning nothing, for web, worker, beat and mail; sync_platform grants it.
# An existing volume is not initialised again: create the roles by hand, as the README shows.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$POSTGRES_DB" \
    -v owner_password="${OWNER_DB_PASSWORD:?set OWNER_DB_PASSWORD}" \
    -v app_password="${APP_DB_PASSWORD:?set APP_DB_PASSWORD}" <<'SQL'
CREATE ROLE serviflow_owner LOGIN PASSWORD :'owner_password';
ALTER DATABASE :"db" OWNER TO serviflow_owner;
ALTER SCHEMA public OWNER TO serviflow_owner;
CREATE ROLE serviflow_app LOGIN PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE TEMPORARY ON DATABASE :"db" FROM PUBLIC;
SQL
