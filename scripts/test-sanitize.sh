#!/usr/bin/env bash
# make test-sanitize: the unit tests under AddressSanitizer and under ThreadSanitizer (own scratch paths), then
# interop scripts with the sanitized `inferno` binaries, with a one-line summary per stage.
#   ASAN_INTEROP="script…" TSAN_INTEROP="script…" scripts/test-sanitize.sh SWIFT VENV
# Sanitizer reports of the interop runs go to files (log_path) because the scripts keep device output in temp
# directories they delete; any report fails the stage. TSan runs get scripts/sanitize/swift-mutex-tsan.c
# preloaded (it makes the Swift runtime's Mutex visible to TSan; see the file). Suppressions:
# scripts/sanitize/tsan.supp (third-party/runtime false positives only, each with its reason).
set -u
swift=$1; venv=$2
read -r -a asan_interop <<<"${ASAN_INTEROP:-}"
read -r -a tsan_interop <<<"${TSAN_INTEROP:-}"
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

# LD_PRELOAD for processes built with $1 (address|thread).
preload() { [ "$1" = thread ] && echo "$root/.build-tsan/swift-mutex-tsan.so" || true; }

unit() { # sanitizer scratch
    local san=$1 scratch=$2 log=$2/sanitize-unit.log
    # The test product and the executable only: the ALSA plugin (a shared object linked with --no-undefined and
    # a static Swift runtime) cannot be linked against a sanitizer runtime, and no test here loads it.
    "$swift" build --sanitize="$san" --scratch-path "$scratch" --product inferno-swiftPackageTests || return 1
    "$swift" build --sanitize="$san" --scratch-path "$scratch" --product inferno || return 1
    LD_PRELOAD=$(preload "$san") "$swift" test --skip-build --sanitize="$san" --scratch-path "$scratch" >"$log" 2>&1
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
    # The scripts start inferno inside namespaces; a wrapper carries the sanitizer settings to it.
    cat >"$dir/inferno" <<WRAP
#!/bin/sh
export TSAN_OPTIONS="log_path=$dir/tsan halt_on_error=0 second_deadlock_stack=1 suppressions=$supp"
export ASAN_OPTIONS="log_path=$dir/asan detect_leaks=0"
export LD_PRELOAD="$(preload "$san")"
export SWIFT_BACKTRACE=enable=no
exec "$root/$scratch/debug/inferno" "\$@"
WRAP
    chmod +x "$dir/inferno"
    INFERNO_BIN=$dir/inferno VENV=$venv bash "$script"
    local rc=$?
    local n; n=$(reports "$dir")
    echo "$(basename "$script") with the $san build: exit $rc, $n sanitizer reports (in $dir)"
    # Sanitized builds run slower (TSan 5-15 times, ASan about 2), so the script's real-time checks (bit-exact
    # audio at a 20 ms latency, restart windows) miss deadlines on a loaded 2-core machine; those checks belong
    # to `make test`. Here the engines still run every path and the verdict is the sanitizer reports.
    [ "$rc" -eq 0 ] || echo "(its timing checks are not this target's verdict under a sanitizer)"
    [ "$n" -eq 0 ]
}

supp=$root/scripts/sanitize/tsan.supp
# LeakSanitizer is off: the Swift runtime keeps metadata and caches for the life of the process by design, and
# leaks are not what this target looks for (memory errors and data races are).
export ASAN_OPTIONS="detect_leaks=0"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$supp"
export SWIFT_BACKTRACE=enable=no
mkdir -p .build-tsan
# clang (the Swift toolchain's): the Swift calling convention attributes are clang's.
"${CLANG:-clang}" -O1 -shared -fPIC -o .build-tsan/swift-mutex-tsan.so scripts/sanitize/swift-mutex-tsan.c -ldl || exit 1
stage "unit tests, AddressSanitizer (.build-asan)" unit address .build-asan
stage "unit tests, ThreadSanitizer (.build-tsan)" unit thread .build-tsan
for s in "${asan_interop[@]}"; do
    stage "$(basename "$s") with inferno built with ASan" interop_run address .build-asan "$s"
done
for s in "${tsan_interop[@]}"; do
    stage "$(basename "$s") with inferno built with TSan" interop_run thread .build-tsan "$s"
done
echo
echo "test-sanitize summary:"
printf '  %s\n' "${summary[@]}"
[ $fail -eq 0 ]
