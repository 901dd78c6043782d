#!/usr/bin/env bash
# Runs the fuzz targets of inferno-fuzz (built by `make fuzz-build`), one line per target.
#   scripts/fuzz.sh BIN SECONDS JOBS [TARGET...]
# Each target runs SECONDS of libFuzzer on its working corpus (.build-fuzz/corpus/<t>, grown across runs) plus the
# committed seeds (Tests/fuzz/corpus/<t>); JOBS targets at a time. A crash or broken invariant is saved under
# .build-fuzz/crashes/ and fails the run (with the command that reproduces it).
set -u
bin=$1; seconds=$2; jobs=$3; shift 3
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$(FUZZ_TARGET=list "$bin" 2>/dev/null)"
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/.build-fuzz
mkdir -p "$work/crashes" "$work/logs"
# The Swift runtime's backtracer would take SIGABRT/SIGSEGV before libFuzzer and no crash input would be saved.
export SWIFT_BACKTRACE=enable=no

run_one() {
    local t=$1 log=$work/logs/$1.log
    mkdir -p "$work/corpus/$t"
    local dict=()
    [ -f "$root/Tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/Tests/fuzz/dict/$t.dict")
    FUZZ_TARGET=$t "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$work/crashes/$t-" "${dict[@]}" "$work/corpus/$t" "$root/Tests/fuzz/corpus/$t" >"$log" 2>&1
    local rc=$?
    local execs cov ft corp secs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
    cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -a -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -a -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ $rc -eq 0 ]; then
        printf 'fuzz %-15s ok    %10s execs in %3s s (%s/s), cov %s, ft %s, corpus %s\n' "$t" "${execs:-?}" \
            "${secs:-?}" "$(( ${execs:-0} / (${secs:-1} > 0 ? ${secs:-1} : 1) ))" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    else
        local art
        art=$(grep -a -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
        printf 'fuzz %-15s FAIL  %s (log %s)\n' "$t" "$(grep -a -m1 -E 'invariant failed|Fatal error|ERROR: libFuzzer' "$log" | cut -c1-160)" "$log"
        [ -n "$art" ] && echo "     reproduce: SWIFT_BACKTRACE=enable=no FUZZ_TARGET=$t $bin $art"
        return 1
    fi
}

fail=0
names=()
for t in "${targets[@]}"; do
    run_one "$t" > "$work/logs/$t.line" &
    names+=("$t")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait
for t in "${names[@]}"; do
    cat "$work/logs/$t.line"
    grep -q '^fuzz [^ ]* *ok ' "$work/logs/$t.line" || fail=$((fail + 1))
done
echo "fuzz: ${#targets[@]} targets, $fail failed (${seconds} s each, $jobs at a time)"
[ $fail -eq 0 ]
