#!/usr/bin/env bash
# Build every fuzz target and run each for a short while from its seeds and the campaign corpus (cargo-fuzz on stable:
# RUSTC_BOOTSTRAP=1 and no sanitizer). Every target gets the same SECONDS_PER_TARGET (default 20) of wall time
# whatever JOBS is; libFuzzer is single-threaded, so JOBS targets (default: the number of cores, `nproc`) run at a
# time, each on its own core, and the run takes about 1/JOBS of the sequential time. Each target's lines are printed
# when it finishes; after a failure no new target starts, and the run exits non-zero.
#   SECONDS_PER_TARGET=600 scripts/fuzz-smoke.sh        # longer runs
#   JOBS=1 scripts/fuzz-smoke.sh                        # one target at a time
#   scripts/fuzz-smoke.sh pg_frontend redis_client      # only these targets
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
seconds=${SECONDS_PER_TARGET:-20}
jobs=${JOBS:-$(nproc)}
export RUSTC_BOOTSTRAP=1 RUST_BACKTRACE=0
cd fuzz
targets=${*:-$(cargo fuzz list)}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One build of every target (what `cargo fuzz run -s none` builds: release, debug assertions on), then the binaries
# run directly, so that concurrent runs do not queue on cargo's lock.
echo "fuzz: building $(echo "$targets" | wc -w) targets" >&2
if ! cargo fuzz build -s none >"$scratch/build.log" 2>&1; then
  tail -40 "$scratch/build.log" >&2
  exit 1
fi
bin_dir=target/$(rustc -vV | sed -n 's/^host: //p')/release

# The minimised campaign corpus (fuzz/corpus.tar.zst) is replayed too, a regression check in seconds: unpacked once.
mkdir "$scratch/campaign"
if [ -f corpus.tar.zst ]; then
  zstd -qdc corpus.tar.zst | tar -xf - -C "$scratch/campaign"
fi

# Runs one target (as `cargo fuzz run -s none <target> <corpus> -- <options>` does) and prints its summary lines in
# one piece; the exit status is libFuzzer's.
smoke_one() {
  local target=$1 corpus log status=0
  if [ -e "$scratch/failed" ]; then
    echo "fuzz: $target not run (a target failed)" >&2
    return 1
  fi
  corpus=$(mktemp -d -p "$scratch")
  # Seeds are read from the committed corpus; what the run discovers goes to a scratch directory.
  cp corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  cp "$scratch/campaign/$target"/* "$corpus"/ 2>/dev/null || true
  log="$corpus.log"
  mkdir -p "artifacts/$target"
  "$bin_dir/$target" -artifact_prefix="artifacts/$target/" "$corpus" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  {
    echo "fuzz: $target for ${seconds}s"
    grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|thread .* panicked|Done)' "$log" || true
    if [ "$status" -ne 0 ]; then
      tail -40 "$log"
      echo "fuzz: $target FAILED (exit $status); see fuzz/artifacts/$target"
    fi
  } >&2
  rm -rf "$corpus" "$log"
  if [ "$status" -ne 0 ]; then
    touch "$scratch/failed" # the targets not started yet are skipped
    return 1
  fi
}
export -f smoke_one
export seconds bin_dir scratch

echo "fuzz: ${seconds}s per target, $jobs at a time" >&2
# shellcheck disable=SC2086
if ! printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'smoke_one "$1"' _ {}; then
  echo "fuzz: a target FAILED" >&2
  exit 1
fi
echo "fuzz: all targets ran clean" >&2
