#!/usr/bin/env bash
# Builds the service image's base from Debian's own packages, with no image registry involved:
# debootstrap a minimal Debian bookworm (Python 3.11 and the CA store from Debian) from the
# machine's apt mirror, then `docker import` it.
#
#   docker/build-base.sh [TAG]          # default openday-base:bookworm
#   docker build --build-arg BASE=openday-base:bookworm -t openday:local .
#
# Needs root (debootstrap), debootstrap, and a Docker engine (DOCKER_HOST is honoured).
# DEBIAN_MIRROR overrides the mirror; otherwise the first Debian URI in /etc/apt/sources.list*.
set -euo pipefail

tag=${1:-openday-base:bookworm}
suite=bookworm

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # deb822 (.sources: "URIs: …") or one-line ("deb URI suite …") entries, Debian's main archive
  # (not -security) first.
  mirror=$(
    { grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
      grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | grep -v -- '-security' | grep -i 'debian' | head -n 1
  ) || true
fi
mirror=${mirror:-http://deb.debian.org/debian}

if [ "$(id -u)" != 0 ]; then
  echo "build-base: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "build-base: debootstrap is not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/openday-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

echo "build-base: debootstrap $suite from $mirror"
# minbase: essential packages and apt only. python3-venv brings ensurepip (pip for the venv);
# ca-certificates and tzdata: TLS to mail servers and webhooks, Asia/Shanghai for dates;
# postgresql-client: pg_dump / pg_restore for `openday backup` and `openday restore`.
debootstrap --variant=minbase --components=main \
  --include=python3,python3-venv,ca-certificates,tzdata,postgresql-client \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Same sources the rootfs was made from, so `apt-get` inside derived images works.
printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
# What an image needs no copy of: downloaded .debs, package lists, docs, man pages, locales.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

echo "build-base: importing as $tag"
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  --message "Debian $suite minbase + python3, postgresql-client (debootstrap from $mirror)" \
  - "$tag" >/dev/null
docker image inspect --format 'build-base: {{.RepoTags}} {{.Size}} bytes' "$tag"
