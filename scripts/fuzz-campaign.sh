#!/usr/bin/env bash
# A fuzzing campaign: every target (or those named) for SECONDS_PER_TARGET (default 1800), growing its
# corpus in fuzz/corpus/<target> (with fuzz/dict/<target>.dict when there is one), then minimising it
# (cargo fuzz cmin). Crashes stay in fuzz/artifacts/<target>. Prints one line per target: executions,
# seconds, corpus size before and after, and the outcome; the table also goes to fuzz/campaign.txt.
#   SECONDS_PER_TARGET=1800 scripts/fuzz-campaign.sh            # the issue's 30 minutes per target
#   SECONDS_PER_TARGET=120 scripts/fuzz-campaign.sh redis_client # one target, briefly
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
seconds=${SECONDS_PER_TARGET:-1800}
export RUSTC_BOOTSTRAP=1 RUST_BACKTRACE=0
cd fuzz
targets=${*:-$(cargo fuzz list)}
for target in $targets; do cargo fuzz build -s none "$target" >/dev/null; done
printf '%-26s %14s %8s %8s %8s  %s\n' target executions seconds before after outcome | tee campaign.txt
failed=0
for target in $targets; do
  mkdir -p "corpus/$target"
  before=$(find "corpus/$target" -type f | wc -l)
  dict=()
  [ -f "dict/$target.dict" ] && dict=(-dict="dict/$target.dict")
  log=$(mktemp)
  set +e
  cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$seconds" \
    -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' \
    || echo "$seconds")
  if [ "$status" -eq 0 ]; then
    outcome=clean
    cargo fuzz cmin -s none "$target" "corpus/$target" >/dev/null 2>&1 || true
  else
    outcome="FAILED (exit $status, see fuzz/artifacts/$target)"
    tail -30 "$log" >&2
    failed=1
  fi
  after=$(find "corpus/$target" -type f | wc -l)
  printf '%-26s %14s %8s %8s %8s  %s\n' "$target" "$runs" "$took" "$before" "$after" "$outcome" \
    | tee -a campaign.txt
  rm -f "$log"
done
exit "$failed"
