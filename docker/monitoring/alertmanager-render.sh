#!/bin/sh
# Renders the Alertmanager template (alertmanager.yml) with the receivers the environment
# configures; the compose file's alertmanager service runs it at every start.
#
#   alertmanager-render.sh TEMPLATE OUTPUT      (the SMTP password is written beside OUTPUT)
#
# ALERTMANAGER_WEBHOOK_URL       alerts POSTed as Alertmanager's webhook JSON to this URL
# ALERTMANAGER_EMAIL_TO          alerts e-mailed to this address (comma-separated for several)
# ALERTMANAGER_SMTP_SMARTHOST    host:port of the mail server (compose default: the mail sink)
# ALERTMANAGER_SMTP_FROM         the sender address
# ALERTMANAGER_SMTP_REQUIRE_TLS  true (default) or false
# ALERTMANAGER_SMTP_USERNAME / ALERTMANAGER_SMTP_PASSWORD   SMTP login, both or neither
#
# At least one of the first two is required: without a receiver the alerts would go nowhere,
# so the container refuses to start, with one line naming the setting. POSIX sh (busybox).
set -eu
template=$1
out=$2
dir=$(dirname "$out")
fail() {
  echo "alertmanager: $*" >&2
  exit 1
}

webhook=${ALERTMANAGER_WEBHOOK_URL:-}
email=${ALERTMANAGER_EMAIL_TO:-}
user=${ALERTMANAGER_SMTP_USERNAME:-}
password=${ALERTMANAGER_SMTP_PASSWORD:-}
tls=${ALERTMANAGER_SMTP_REQUIRE_TLS:-true}
[ -n "$webhook$email" ] \
  || fail "set ALERTMANAGER_WEBHOOK_URL or ALERTMANAGER_EMAIL_TO in .env (where alerts are sent)"
case $webhook in "" | http://* | https://*) ;; *) fail "ALERTMANAGER_WEBHOOK_URL must be an http(s) URL" ;; esac
case $tls in true | false) ;; *) fail "ALERTMANAGER_SMTP_REQUIRE_TLS must be true or false" ;; esac
if [ -n "$email" ]; then
  [ -n "${ALERTMANAGER_SMTP_SMARTHOST:-}" ] || fail "set ALERTMANAGER_SMTP_SMARTHOST (host:port) for ALERTMANAGER_EMAIL_TO"
  [ -n "${ALERTMANAGER_SMTP_FROM:-}" ] || fail "set ALERTMANAGER_SMTP_FROM for ALERTMANAGER_EMAIL_TO"
fi
if [ -n "$user" ] && [ -z "$password" ]; then
  fail "ALERTMANAGER_SMTP_USERNAME is set without ALERTMANAGER_SMTP_PASSWORD"
fi

# A value made safe inside a double-quoted YAML string, then on the right of sed's s|...|...|.
quote() { printf '%s' "$1" | sed -e 's/[\\"]/\\&/g' -e 's/[\\&|]/\\&/g'; }
keep() { # keep TAG CONDITION: the tagged lines lose their tag, or go when CONDITION is empty
  if [ -n "$2" ]; then echo "s/  #@$1\$//"; else echo "/#@$1\$/d"; fi
}

umask 077
if [ -n "$user" ]; then
  printf '%s' "$password" >"$dir/smtp-password"
fi
sed -e "$(keep webhook "$webhook")" -e "$(keep email "$email")" -e "$(keep smtp-auth "$user")" \
  -e "s|@WEBHOOK_URL@|$(quote "$webhook")|" \
  -e "s|@EMAIL_TO@|$(quote "$email")|" \
  -e "s|@SMTP_SMARTHOST@|$(quote "${ALERTMANAGER_SMTP_SMARTHOST:-}")|" \
  -e "s|@SMTP_FROM@|$(quote "${ALERTMANAGER_SMTP_FROM:-}")|" \
  -e "s|@SMTP_REQUIRE_TLS@|$tls|" \
  -e "s|@SMTP_USERNAME@|$(quote "$user")|" \
  -e "s|/run/alertmanager/smtp-password|$(quote "$dir/smtp-password")|" \
  "$template" >"$out"
if grep -n '@[A-Z_]*@' "$out" >&2; then
  fail "a placeholder of $template was left unfilled (above)"
fi
