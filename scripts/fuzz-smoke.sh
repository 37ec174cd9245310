#!/usr/bin/env bash
# Build every fuzz target and run each for a short while from its seeds and the campaign corpus (cargo-fuzz on stable:
# RUSTC_BOOTSTRAP=1 and no sanitizer). Longer runs: SECONDS_PER_TARGET=600 scripts/fuzz-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
seconds=${SECONDS_PER_TARGET:-20}
export RUSTC_BOOTSTRAP=1 RUST_BACKTRACE=0
cd fuzz
targets=$(cargo fuzz list)
for target in $targets; do
  corpus=$(mktemp -d)
  # Seeds are read from the committed corpus; what the run discovers goes to a scratch directory.
  cp corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  # The minimised campaign corpus (fuzz/corpus.tar.zst) is replayed too: a regression check in seconds.
  if [ -f corpus.tar.zst ]; then
    zstd -qdc corpus.tar.zst | tar -xf - -C "$corpus" --strip-components=1 --wildcards "$target/*" 2>/dev/null \
      || true
  fi
  echo "fuzz: $target for ${seconds}s" >&2
  log=$(mktemp)
  set +e
  cargo fuzz run -s none "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|thread .* panicked|Done)' "$log" >&2 || true
  [ "$status" -eq 0 ] || tail -40 "$log" >&2
  rm -rf "$corpus" "$log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (exit $status); see fuzz/artifacts/$target" >&2
    exit "$status"
  fi
done
echo "fuzz: all targets ran clean" >&2
