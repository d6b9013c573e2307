# syntax=docker/dockerfile:1
#
# ServiFlow application image: one image for every process (web, Celery worker, Celery beat and
# the one-shot `migrate`); docker/entrypoint.sh maps those names to commands. See docker-compose.yml.

# Both stages must use the same Python: the venv built in the first is copied into the second.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: resolve the locked dependencies into /opt/venv ---------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app
# Only the lock files first, so this (slow) layer is rebuilt only when dependencies change.
# --no-install-project: the project's modules are run from the source tree (/app on PYTHONPATH),
# so only its dependencies go into the venv.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# --- runtime ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=serviflow.settings

# WeasyPrint (the service report's PDF) draws text with Pango; DejaVu is the report's font.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# A fixed UID/GID so file ownership on mounted volumes is predictable; USER below is numeric so a
# runtime can verify it is not root without reading /etc/passwd.
RUN groupadd --system --gid 10001 serviflow \
    && useradd --system --uid 10001 --gid serviflow --create-home --home-dir /home/serviflow \
       --shell /usr/sbin/nologin serviflow

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# The source stays owned by root: the app user can read it but not change it.
COPY . .

# With DEBUG off whitenoise serves the collected (hashed, compressed) files from var/static, so
# they are baked into the image. Settings only need to import here: with both URLs given they
# connect to nothing, so these throw-away values never reach a real service (and, set inline,
# they are not kept in the image's environment).
RUN chmod 0755 docker/entrypoint.sh \
    && DATABASE_URL=postgres://build@localhost/build \
       REDIS_URL=redis://localhost:6379/0 \
       SECRET_KEY=build-only \
       EMAIL_URL=console: \
       python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q -j 0 /app \
    && install -d -o 10001 -g 10001 -m 0750 /data/media

USER 10001:10001
EXPOSE 8000

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
