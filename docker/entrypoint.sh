#!/bin/sh
# Entrypoint of the ServiFlow image. The first argument names the process to run:
#
#   web      gunicorn on :8000
#   worker   Celery worker
#   beat     Celery beat (one is enough; extra copies stand by: serviflow/beat.py)
#   mail     the SMTP listener of the email channel on :2525 (manage.py mail_server)
#   migrate  manage.py sync_platform: migrates public, template and every customer schema and grants
#            DATABASE_APP_ROLE; idempotent. The only process that connects as the owner role
#
# Further arguments are appended to that process's command line (e.g. `web --workers 4`).
# Anything else is run as given, e.g.
#   docker compose run --rm web python manage.py create_provider_admin --email ... --password ...
#
# Every branch uses exec, so the process gets the container's signals (SIGTERM on stop) directly.
set -eu

if [ "$#" -eq 0 ]; then
    set -- web
fi

role=$1
case "$role" in
    web)
        shift
        # The heartbeat files go to /dev/shm: on the container's disk-backed overlay filesystem
        # they can stall workers (gunicorn's own advice for Docker).
        exec gunicorn serviflow.wsgi:application \
            --bind 0.0.0.0:8000 \
            --workers 2 \
            --worker-tmp-dir /dev/shm \
            --access-logfile - \
            "$@"
        ;;
    worker)
        shift
        exec celery -A serviflow worker -l INFO "$@"
        ;;
    mail)
        shift
        exec python manage.py mail_server --port 2525 "$@"
        ;;
    beat)
        shift
        # The schedule file only records last run times; losing it with the container is harmless.
        exec celery -A serviflow beat -l INFO -s /tmp/celerybeat-schedule "$@"
        ;;
    migrate)
        shift
        exec python manage.py sync_platform "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
