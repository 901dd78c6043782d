#!/usr/bin/env bash
# Regenerates the committed seed corpus Tests/fuzz/corpus/<target>/: the generated valid messages each target
# writes (FUZZ_WRITE_SEEDS) plus captured packets from the fixtures (Dante ARC/conmon captures of netaudio,
# ../shared/fixtures/netaudio, as copied into Tests/InfernoProtocolTests/Fixtures).
#   scripts/fuzz-seeds.sh BIN
set -eu
bin=$1
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=$root/Tests/fuzz/corpus
fx=$root/Tests/InfernoProtocolTests/Fixtures
export SWIFT_BACKTRACE=enable=no
rm -rf "$corpus"
for t in $(FUZZ_TARGET=list "$bin" 2>/dev/null); do
    FUZZ_TARGET=$t FUZZ_WRITE_SEEDS="$corpus/$t" "$bin"
done
# Captures: ARC request/response pairs and subscription messages; conmon and heartbeat packets.
cp "$fx"/netaudio/*.bin "$corpus/arc/" 2>/dev/null || true
find "$fx/provenance" -name 'protocol_27FF_*' -o -name 'protocol_2809_*' -o -name 'protocol_2729_*' | sort | head -60 |
    while read -r f; do cp "$f" "$corpus/arc/$(basename "$(dirname "$f")")-$(basename "$f")"; done
find "$fx/provenance" -name 'protocol_FFFF_*' -o -name 'protocol_FFFE_*' | sort | head -60 |
    while read -r f; do cp "$f" "$corpus/conmon/$(basename "$(dirname "$f")")-$(basename "$f")"; done
for t in "$corpus"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
