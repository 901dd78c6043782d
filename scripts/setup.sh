#!/usr/bin/env bash
# Installs what `make run` and `make test` need and is missing: Debian packages (only when one is absent)
# and, with --venv DIR, a Python venv holding the pinned interop tools.
set -euo pipefail

APT_PACKAGES=(
  pkg-config libasound2-dev libpipewire-0.3-dev libspa-0.2-dev libopus-dev zlib1g-dev  # C libraries we link
  alsa-utils iproute2 python3-venv                                                     # interop tests
  pipewire pipewire-bin wireplumber dbus-daemon                                        # PipeWire interop test
  bind9-dnsutils unbound                                                               # AoDNS tests (dig, a real resolver)
  libavahi-compat-libdnssd-dev avahi-daemon avahi-utils dbus                           # --mdns avahi and its test
  linuxptp tshark                                                                      # PTP tests (ptp4l/pmc peers, dissector)
)
PY_PACKAGES=(netaudio==0.4.2)
BENCH_PACKAGES=(nsd bind9-dnsutils)                                                   # make bench: the DNS row's reference server

venv=""
while [ $# -gt 0 ]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --bench) APT_PACKAGES+=("${BENCH_PACKAGES[@]}"); shift ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update first when the package lists are missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null | head -1)" ]; then
    $sudo apt-get update -qq
  fi
  # Installing avahi-daemon must not start it in the machine's own network (the tests run it only inside their
  # namespaces): without a policy-rc.d, hold service starts back for the duration of the install (Debian's
  # mechanism; removed again afterwards).
  guard=""
  if [[ " ${missing[*]} " == *" avahi-daemon "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# inferno scripts/setup.sh: no service starts during its apt-get install\nexit 101\n' | $sudo tee "$guard" >/dev/null
    $sudo chmod 755 "$guard"
    trap '$sudo rm -f "$guard"' EXIT
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$guard" ]; then $sudo rm -f "$guard"; trap - EXIT; fi
fi

if [ -n "$venv" ]; then
  stamp="$venv/.inferno-${PY_PACKAGES[*]// /_}"
  if [ ! -f "$stamp" ]; then
    echo "setup: creating Python venv $venv with ${PY_PACKAGES[*]}"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
    touch "$stamp"
  fi
fi
