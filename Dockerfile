# The Open Day service image. One image runs every part of the service; the command picks it:
#   openday migrate | openday api --host 0.0.0.0 --workers N | openday worker | openday scheduler
#
# The base is Debian bookworm with Python 3.11 from Debian's own packages, made without any image
# registry by docker/build-base.sh (debootstrap + docker import), then this file on top:
#   docker/build-base.sh                                  # once: openday-base:bookworm
#   make node_modules/.installed-stamp                    # the npm assets the pages serve
#   docker build --network host -t openday:local .        # or: docker compose build
# Another Debian-based base works too (--build-arg BASE=debian:bookworm-slim where a registry is
# reachable): the base stage installs Python from apt when the base has none.
ARG BASE=openday-base:bookworm

# ---- base: Python 3.11 and the service's user, shared by the build and the runtime -----------
FROM ${BASE} AS base
# uid/gid 10001: not root, and not a uid Debian uses. OPENDAY_VAR_DIR (uploads) is the only
# place the service writes; a named volume mounted there copies this ownership.
RUN set -eu; \
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip' 2>/dev/null; then \
        apt-get update -q; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            python3 python3-venv ca-certificates tzdata; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'; \
    groupadd --system --gid 10001 openday; \
    useradd --system --uid 10001 --gid openday --home-dir /var/lib/openday --no-create-home \
        --shell /usr/sbin/nologin openday; \
    install -d -o openday -g openday -m 0750 /var/lib/openday

# pg_dump and pg_restore for `openday backup` / `openday restore` on PostgreSQL (workflows/backup/),
# by hand (`docker compose exec api openday backup …`) or nightly in the scheduler. Debian
# bookworm's client is PostgreSQL 15's, and pg_dump refuses a newer server, so the compose file's
# database is postgres:15 too. docker/build-base.sh includes the client; an older base gets it here.
RUN set -eu; \
    if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then \
        apt-get update -q; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-client; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    pg_dump --version

# ---- deps: a virtualenv holding the dependencies ----------------------------------------------
# Its own stage so docker/build.sh can tag it (openday-deps:cache): the layers survive pruning
# of dangling images and are rebuilt only when requirements.lock changes.
FROM base AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when requirements.lock changes. That is
# the runtime's lock (`make lock` writes it from pyproject.toml): every package at its pinned
# version, each file checked against its sha256, so every build installs the same program.
# docker/build-ca.crt (optional, git-ignored): the CA bundle of a network that inspects TLS, which
# docker/build.sh copies from the host so pip can reach PyPI. It lives in this stage only; the
# runtime stage copies /opt/venv and /app, never /tmp/build.
COPY requirements.lock docker/build-ca.cr[t] /tmp/build/
RUN set -eu; \
    if [ -f /tmp/build/build-ca.crt ]; then export PIP_CERT=/tmp/build/build-ca.crt; fi; \
    pip install -q --require-hashes -r /tmp/build/requirements.lock

# ---- builder: the project on top of the dependencies --------------------------------------------
FROM deps AS builder

# The project itself, installed *editable* on purpose: settings.PROJECT_DIR is the directory of
# settings.py, and `openday migrate` finds alembic.ini and migrations/ there (models/db.py), the
# demo campaign finds data/ there (workflows/schedule/demo.py), the pages find node_modules/ there. A
# regular install would copy settings.py into site-packages, away from those files. So /app
# stays the source tree the venv points at.
COPY . .
# The pages serve htmx, swagger-ui-dist and redoc from node_modules/ (npm, package-lock.json):
# the build context must hold them (`make node_modules/.installed-stamp` runs `npm ci`).
RUN set -eu; \
    for f in node_modules/htmx.org/dist/htmx.min.js node_modules/swagger-ui-dist/swagger-ui-bundle.js \
             node_modules/redoc/bundles/redoc.standalone.js; do \
        [ -f "$f" ] || { echo "missing $f: run 'make node_modules/.installed-stamp' (npm ci) first" >&2; exit 1; }; \
    done; \
    rm -rf /app/docker; \
    if [ -f /tmp/build/build-ca.crt ]; then export PIP_CERT=/tmp/build/build-ca.crt; fi; \
    pip install -q --no-deps -e .; \
    python -m compileall -q /app

# ---- runtime: the base, the venv and the source tree, run as a non-root user ----------------
FROM base AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENDAY_VAR_DIR=/var/lib/openday \
    OPENDAY_HOST=0.0.0.0 \
    OPENDAY_LOG_FORMAT=json

# Same paths as in the builder: the venv's scripts and its editable-install finder point at them.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app

USER openday:openday

# 8000: the API (/healthz, /readyz, /docs, /metrics); 9191: dramatiq's metrics in `openday worker`.
EXPOSE 8000 9191

# For the API (curl is not in the image). The worker, scheduler and migrate containers override
# or disable this in docker-compose.yml, since they serve no /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('OPENDAY_PORT') or os.environ.get('PORT') or '8000'; urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=4)"]

ENTRYPOINT ["openday"]
CMD ["api", "--host", "0.0.0.0"]
