#!/usr/bin/env bash
# make test-sanitize: the unit tests under AddressSanitizer and under ThreadSanitizer (own scratch paths), then
# interop scripts with the sanitized `inferno` binaries, with a one-line summary per stage.
#   scripts/test-sanitize.sh SWIFT VENV [INTEROP_SCRIPT...]
# Sanitizer reports of the interop runs go to files (log_path) because the scripts keep device output in temp
# directories they delete; any report fails the stage. Suppressions: scripts/tsan.supp (third-party/runtime
# false positives only, each with its reason).
set -u
swift=$1; venv=$2; shift 2
interop=("$@")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
summary=()
fail=0
now() { date +%s; }

stage() { # name command...
    local name=$1; shift
    local t0; t0=$(now)
    echo "== $name"
    if "$@"; then summary+=("$(printf '%-44s ok    %4d s' "$name" $(( $(now) - t0 )))")
    else summary+=("$(printf '%-44s FAIL  %4d s' "$name" $(( $(now) - t0 )))"); fail=$((fail + 1)); fi
}

reports() { # dir: counts sanitizer reports written by log_path
    cat "$1"/* 2>/dev/null | grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer|SUMMARY: UndefinedBehavior)' || true
}

unit() { # sanitizer scratch
    local san=$1 scratch=$2 log=$2/sanitize-unit.log
    "$swift" build --build-tests --sanitize="$san" --scratch-path "$scratch" || return 1
    "$swift" test --skip-build --sanitize="$san" --scratch-path "$scratch" >"$log" 2>&1
    local rc=$?
    tail -3 "$log"
    local n; n=$(grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer)' "$log" || true)
    echo "$san unit tests: exit $rc, $n sanitizer reports (log $log)"
    [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
}

interop_run() { # sanitizer scratch script
    local san=$1 scratch=$2 script=$3
    local dir; dir=$root/$scratch/interop-$(basename "$script" .sh)
    rm -rf "$dir"; mkdir -p "$dir"
    INFERNO_BIN=$root/$scratch/debug/inferno VENV=$venv \
    TSAN_OPTIONS="log_path=$dir/tsan halt_on_error=0 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp" \
    ASAN_OPTIONS="log_path=$dir/asan detect_leaks=0" \
        bash "$script"
    local rc=$?
    local n; n=$(reports "$dir")
    echo "$(basename "$script") with the $san build: exit $rc, $n sanitizer reports (in $dir)"
    [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
}

export ASAN_OPTIONS="detect_leaks=0"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp"
export SWIFT_BACKTRACE=enable=no
stage "unit tests, AddressSanitizer (.build-asan)" unit address .build-asan
stage "unit tests, ThreadSanitizer (.build-tsan)" unit thread .build-tsan
for s in "${interop[@]}"; do
    stage "$(basename "$s") with inferno built with ASan" interop_run address .build-asan "$s"
    stage "$(basename "$s") with inferno built with TSan" interop_run thread .build-tsan "$s"
done
echo
echo "test-sanitize summary:"
printf '  %s\n' "${summary[@]}"
[ $fail -eq 0 ]
