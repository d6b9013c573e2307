#!/bin/sh
# Run by the postgres image once, when it initialises a new data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml): creates the role web, worker, beat and mail
# connect as. It owns nothing; `manage.py sync_platform` (the migrate service, as the owner
# POSTGRES_USER) grants it what the application needs (README "Database roles").
# An existing volume is not initialised again: create the role by hand, as the README shows.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_password="${APP_DB_PASSWORD:?set APP_DB_PASSWORD}" <<'SQL'
CREATE ROLE serviflow_app LOGIN PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
