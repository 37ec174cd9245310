#!/usr/bin/env bash
# A fuzzing campaign: every target (or those named, in that order) runs until it has made MAX_RUNS
# executions (default 10,000,000) or SECONDS_PER_TARGET have passed (default 1800), whichever comes first,
# growing its corpus in fuzz/corpus/<target> with the dictionary of its protocol (fuzz/dict/*.dict, see
# dicts_for). Then the corpus is minimised (a libFuzzer merge, as `cargo fuzz cmin` does, but into a
# directory that starts with the checked-in seed-* files, so seeds always survive and other inputs stay
# only where they add coverage beyond them). Crashes stay in fuzz/artifacts/<target>.
#
# Prints one line per target (executions, seconds, corpus files before, grown and minimised, outcome),
# also written to fuzz/campaign.txt (TABLE); each libFuzzer log goes to fuzz/target/campaign-logs/.
#   scripts/fuzz-campaign.sh                                    # the issue's 10M runs / 30 minutes each
#   JOBS=2 scripts/fuzz-campaign.sh                             # two targets at a time
#   SECONDS_PER_TARGET=120 scripts/fuzz-campaign.sh redis_client # one target, briefly
#   UNTIL=05:20 JOBS=2 scripts/fuzz-campaign.sh                 # no target runs past 05:20 (date -d)
#   MINIMISE=0 ...                                              # grow only; minimise later
#   MINIMISE_ONLY=1 ...                                         # no run: minimise what is there
#   TABLE=campaign-new.txt ...                                  # the table elsewhere (fuzz/<TABLE>)
# The minimised corpus beyond the seeds is checked in as fuzz/corpus.tar.zst: it is unpacked over
# fuzz/corpus first, and PACK=1 writes it again from fuzz/corpus at the end (seeds stay files in git).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
seconds=${SECONDS_PER_TARGET:-1800}
max_runs=${MAX_RUNS:-10000000}
jobs=${JOBS:-1}
minimise=${MINIMISE:-1}
minimise_only=${MINIMISE_ONLY:-0}
table=${TABLE:-campaign.txt}
until_epoch=
[ -n "${UNTIL:-}" ] && until_epoch=$(date -d "$UNTIL" +%s)
export RUSTC_BOOTSTRAP=1 RUST_BACKTRACE=0
cd fuzz
if [ -f corpus.tar.zst ]; then
  zstd -dc corpus.tar.zst | tar -xf - -C corpus --skip-old-files
fi
targets=${*:-$(cargo fuzz list)}
cargo fuzz build -s none >/dev/null
bin_dir=target/$(rustc -vV | sed -n 's/^host: //p')/release
logs=target/campaign-logs
mkdir -p "$logs"

# The dictionary files of a target's protocol (concatenated when there are several).
dicts_for() {
  case "$1" in
    pg_*) echo dict/postgres.dict ;;
    my_*) echo dict/mysql.dict ;;
    redis_*) echo dict/resp.dict ;;
    cql_*) echo dict/cql.dict ;;
    mongodb_*) echo dict/mongodb.dict ;;
    http_*) echo dict/http.dict dict/aws.dict ;;
    sigv4_*) echo dict/http.dict ;;
    aws_*) echo dict/aws.dict ;;
    resource_yaml) echo dict/resource.dict dict/aws.dict ;;
    proxy_*) echo dict/proxy.dict ;;
  esac
  [ ! -f "dict/$1.dict" ] || echo "dict/$1.dict"
}

count() { find "$1" -type f | wc -l; }

# Runs one target and prints its table line; the exit status says whether it ran clean.
campaign_one() {
  local target=$1 corpus=corpus/$1 log=$logs/$1.log budget=$seconds
  mkdir -p "$corpus" "artifacts/$target"
  if [ -n "$until_epoch" ]; then
    local left=$((until_epoch - $(date +%s)))
    [ "$left" -lt "$budget" ] && budget=$left
    if [ "$budget" -lt 30 ]; then
      printf '%-26s %12s %8s %8s %8s %8s  %s\n' "$target" - - "$(count "$corpus")" - - "not run (UNTIL)"
      return 0
    fi
  fi
  local before dict=() files
  before=$(count "$corpus")
  if [ "$minimise_only" = 1 ]; then
    local outcome="minimised only"
    minimise_one "$target" >>"$log" 2>&1 || outcome="minimise failed"
    printf '%-26s %12s %8s %8s %8s %8s  %s\n' "$target" - - "$before" "$before" "$(count "$corpus")" "$outcome"
    return 0
  fi
  files=$(dicts_for "$target")
  if [ -n "$files" ]; then
    # shellcheck disable=SC2086
    cat $files >"$logs/$target.dict"
    dict=(-dict="$logs/$target.dict")
  fi
  local start status=0
  start=$(date +%s)
  # -artifact_prefix: crashes land where cargo fuzz puts them; the corpus is the only directory given,
  # so new inputs go there.
  "$bin_dir/$target" "$corpus" -runs="$max_runs" -max_total_time="$budget" -rss_limit_mb=2048 \
    -timeout=30 -print_final_stats=1 -artifact_prefix="artifacts/$target/" "${dict[@]}" >"$log" 2>&1 \
    || status=$?
  local took runs outcome grown
  grown=$(count "$corpus")
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  took=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' \
    | tail -1)
  [ -n "$took" ] || took=$(($(date +%s) - start))
  case "$status" in
    0) if [ "${runs:-0}" -ge "$max_runs" ]; then outcome="clean ($max_runs runs)"; else outcome="clean (time)"; fi ;;
    72) outcome="interrupted" ;;
    *) outcome="FAILED (exit $status, see fuzz/artifacts/$target, $log)" ;;
  esac
  if [ "$status" -ne 0 ] && [ "$status" -ne 72 ]; then
    tail -30 "$log" >&2
  elif [ "$minimise" = 1 ]; then
    minimise_one "$target" >>"$log" 2>&1 || outcome="$outcome, minimise failed"
  fi
  printf '%-26s %12s %8s %8s %8s %8s  %s\n' "$target" "${runs:-?}" "$took" "$before" "$grown" \
    "$(count "$corpus")" "$outcome"
  [ "$status" -eq 0 ] || [ "$status" -eq 72 ]
}

# Minimise corpus/<target> in place, keeping every seed-* file.
minimise_one() {
  local target=$1 corpus=corpus/$1 kept rest
  kept=$(mktemp -d) rest=$(mktemp -d)
  find "$corpus" -maxdepth 1 -type f -name 'seed-*' -exec cp {} "$kept"/ \;
  find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' -exec mv {} "$rest"/ \;
  # The merge keeps what is in the first directory and adds from the second only what covers more.
  if "$bin_dir/$target" -merge=1 -rss_limit_mb=2048 -timeout=30 "$kept" "$rest"; then
    find "$kept" -type f ! -name 'seed-*' -exec mv {} "$corpus"/ \;
    rm -rf "$kept" "$rest"
  else
    find "$rest" -type f -exec mv {} "$corpus"/ \;
    rm -rf "$kept" "$rest"
    return 1
  fi
}
export -f campaign_one minimise_one dicts_for count
export seconds max_runs minimise minimise_only until_epoch bin_dir logs

header=$(printf '%-26s %12s %8s %8s %8s %8s  %s' target executions seconds before grown minimised outcome)
echo "$header" | tee "$table"
failed=0
# shellcheck disable=SC2086
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'campaign_one "$1"' _ {} | tee -a "$table" \
  || failed=1
if [ "${PACK:-0}" = 1 ]; then
  (cd corpus && find . -type f ! -name 'seed-*' | sed 's|^\./||' | LC_ALL=C sort \
    | tar --owner=0 --group=0 --mtime=@0 -cf - -T -) | zstd -q -19 -f -o corpus.tar.zst
fi
exit "$failed"
