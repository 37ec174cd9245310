#!/usr/bin/env bash
# Install what iamwire's tests and demo need on a fresh Debian machine: database servers and clients, the PAM
# module that runs the token verifier, and a Python venv with moto/boto3. Idempotent, and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${IAMWIRE_VENV:-/opt/iamwire/venv}
APT_PACKAGES=(
  postgresql postgresql-client postgresql-contrib   # throwaway clusters (run as the postgres user)
  mariadb-server mariadb-client                     # throwaway MariaDB with auth_pam
  redis-server redis-tools                          # throwaway Redis with TLS
  libpam-python                                     # PAM module that runs the botocore token verifier
  sysbench                                          # MySQL load through the proxy (oltp_point_select)
  python3 python3-venv                              # Debian's python3: the one pam_python embeds
  ca-certificates                                   # root certificates for HTTPS to AWS APIs
  wrk                                               # HTTP load through the HTTP proxy (benches)
  pgbouncer nutcracker                              # the overhead harness's pooler / twemproxy rows
  nodejs                                            # node and npm, for mongosh (MongoDB e2e)
  zstd                                              # fuzz/corpus.tar.zst (fuzz-smoke.sh, fuzz-campaign.sh)
)

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  # Services are not started by the package scripts here; the tests start their own throwaway servers.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv must be built from Debian's /usr/bin/python3 (pam_python embeds that interpreter) and live outside
# /root, so that the postgres user's backends can import botocore from it.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating the Python venv at $VENV"
  as_root mkdir -p "$(dirname "$VENV")"
  as_root /usr/bin/python3 -m venv "$VENV"
fi
stamp="$VENV/.iamwire-requirements"
if ! cmp -s scripts/requirements.txt "$stamp"; then
  log "installing Python packages into $VENV"
  as_root "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
  as_root cp scripts/requirements.txt "$stamp"
fi
as_root chmod -R a+rX "$VENV"

# mongosh, MongoDB's own shell, as a second real client of the MongoDB proxy (npm; pinned).
MONGOSH_VERSION=2.12.0
MONGOSH_DIR=${IAMWIRE_MONGOSH_DIR:-/opt/iamwire/mongosh-$MONGOSH_VERSION}
if [ ! -x "$MONGOSH_DIR/node_modules/.bin/mongosh" ]; then
  log "installing mongosh $MONGOSH_VERSION into $MONGOSH_DIR"
  as_root mkdir -p "$MONGOSH_DIR"
  as_root npm install --prefix "$MONGOSH_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "mongosh@$MONGOSH_VERSION" >/dev/null
fi
log "ready"
