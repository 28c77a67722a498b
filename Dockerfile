# The Open Day service image. One image runs every part of the service; the command picks it:
#   openday migrate | openday api --host 0.0.0.0 --workers N | openday worker | openday scheduler
# docker-compose.yml builds it as openday:local; by hand: docker build -t openday:local .

# ---- builder: a virtualenv holding the dependencies and the project -------------------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
# tzdata: the service judges dates in Asia/Shanghai (zoneinfo), and the slim base image may not
# ship the system time-zone database, so the Python package provides it.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt tzdata

# The project itself, installed *editable* on purpose: settings.PROJECT_DIR is the directory of
# settings.py, and `openday migrate` finds alembic.ini and migrations/ there (models/db.py), the
# demo campaign finds data/ there (workflows/demo.py). A regular install would copy settings.py
# into site-packages, away from those files. So /app stays the source tree the venv points at.
COPY . .
RUN pip install --no-deps -e . \
 && python -m compileall -q /app

# ---- runtime: the slim base, the venv and the source tree, run as a non-root user -----------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENDAY_VAR_DIR=/var/lib/openday \
    OPENDAY_HOST=0.0.0.0 \
    OPENDAY_LOG_FORMAT=json

# uid/gid 10001: not root, and not a uid the base image already uses. OPENDAY_VAR_DIR (uploads)
# is the only place the service writes; a named volume mounted there copies this ownership.
RUN groupadd --system --gid 10001 openday \
 && useradd --system --uid 10001 --gid openday --home-dir /var/lib/openday --no-create-home \
        --shell /usr/sbin/nologin openday \
 && install -d -o openday -g openday -m 0750 /var/lib/openday

# Same paths as in the builder: the venv's scripts and its editable-install finder point at them.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app

USER openday:openday

# 8000: the API (/healthz, /readyz, /docs, /metrics); 9191: dramatiq's metrics in `openday worker`.
EXPOSE 8000 9191

# For the API (curl is not in the slim image). The worker, scheduler and migrate containers
# override or disable this in docker-compose.yml, since they serve no /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('OPENDAY_PORT') or os.environ.get('PORT') or '8000'; urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=4)"]

ENTRYPOINT ["openday"]
CMD ["api", "--host", "0.0.0.0"]
