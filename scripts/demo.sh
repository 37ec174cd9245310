#!/usr/bin/env bash
# The demo command: set up (see setup.sh), then start the local stack and print how to use it.
# Pass --check to run the printed command and exit (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -q --bin iamwire
exec cargo run -q --example demo -- "$@"
