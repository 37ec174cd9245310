#!/usr/bin/env bash
# CI's short smoke of the benches: build every bench, run each criterion bench once (`--test`: no
# timing), and run the overhead harness for one 1-second round (`--smoke`). Numbers come from the full
# runs (README, "Performance"), never from here or from tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_INCREMENTAL=0
cargo bench --no-run
for bench in hot_paths codecs http_resign; do
  cargo bench --bench "$bench" -- --test
done
cargo bench --bench overhead -- --smoke
