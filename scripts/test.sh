#!/usr/bin/env bash
# The test command: set up what the tests need (see setup.sh), then run every test in the workspace.
# Tests start their own throwaway servers on random ports; they need root (PAM services in /etc/pam.d).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo test --workspace "$@"
