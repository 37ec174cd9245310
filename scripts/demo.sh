#!/usr/bin/env bash
# The demo command: set up (see setup.sh), then start the local stack and print how to use it.
# Pass --check to run the printed command and exit (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The binary and the examples as `cargo test --workspace` builds them (features unified across the workspace, dev
# dependencies included), so the demo runs the binary the tests ran, and after the tests (CI) nothing is compiled
# again; `--bin iamwire` or `--example demo` alone would each build another feature set of a third of the workspace.
cargo build -q --workspace --bins --examples
exec "${CARGO_TARGET_DIR:-target}"/debug/examples/demo "$@"
