#!/usr/bin/env bash
# Builds the service image openday:local (or TAG) on a Debian base made from Debian's packages:
#
#   docker/build.sh [TAG]
#
# 1. the base image ($OPENDAY_BASE_IMAGE, default openday-base:bookworm) if Docker lacks it,
#    through docker/build-base.sh (debootstrap + docker import; needs root);
# 2. the npm assets the pages serve (node_modules/, `npm ci`) when missing;
# 3. `docker build` with host networking (the build reaches PyPI through the host's network,
#    also where Docker's bridge cannot) and this host's CA bundle handed to pip in the builder
#    stage only (a network that inspects TLS has a CA of its own there; the image keeps none).
# DOCKER_HOST is honoured, so a private engine works too.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-openday:local}
base=${OPENDAY_BASE_IMAGE:-openday-base:bookworm}

if ! docker image inspect "$base" >/dev/null 2>&1; then
  docker/build-base.sh "$base"
fi
if [ ! -f node_modules/htmx.org/dist/htmx.min.js ]; then
  npm ci --no-audit --no-fund --ignore-scripts
fi

ca=${OPENDAY_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
rm -f docker/build-ca.crt
trap 'rm -f docker/build-ca.crt' EXIT
if [ -f "$ca" ]; then
  cp "$ca" docker/build-ca.crt
fi

# The dependencies' and the builder's stages first, tagged, so their layers stay cached when
# dangling images are pruned; the full build then reuses them.
for stage in deps builder; do
  docker build --network host --build-arg "BASE=$base" --target "$stage" \
    -t "openday-$stage:cache" . >/dev/null
done
docker build --network host --build-arg "BASE=$base" -t "$tag" .
