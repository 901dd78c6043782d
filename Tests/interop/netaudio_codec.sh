#!/usr/bin/env bash
# Cross-checks our wire codecs against netaudio 0.4.2's own packet builder and parser (its Rust core, from
# PyPI): requests netaudio builds must decode to what netaudio meant, and device responses we build must
# parse in netaudio to the values we put in. Pure computation: no sockets, no network.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
exec "$VENV/bin/python" "$(dirname "$0")/netaudio_codec.py" "$INFERNO_BIN"
