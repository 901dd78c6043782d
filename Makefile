# Inferno for Swift. The two commands: `make run` and `make test` (both install what is missing first).
SWIFT      ?= swift
BUILD      ?= .build
CONFIG     ?= debug
VENV       := $(BUILD)/venv
BIN        := $(BUILD)/$(CONFIG)/inferno
RUN_ARGS   ?= demo
SWIFT_FLAGS := -c $(CONFIG) --scratch-path $(BUILD)

.PHONY: all setup setup-test build run test test-unit test-interop soak install-alsa bench clean \
        fuzz fuzz-build fuzz-smoke fuzz-seeds test-sanitize

all: build

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --venv $(VENV)

build: setup
	$(SWIFT) build $(SWIFT_FLAGS)

## make run: set up, build, and run the main job on embedded defaults.
run: build
	$(BIN) $(RUN_ARGS)

## make test: set up (including the interop venv), build, run every unit test, then every interop script.
test: setup-test
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory test-interop

test-interop:
	@set -e; pass=0; fail=0; \
	for t in Tests/interop/*.sh; do \
	  [ -f "$$t" ] || continue; \
	  echo "== interop: $$t"; \
	  if INFERNO_BIN=$(abspath $(BIN)) VENV=$(abspath $(VENV)) bash "$$t"; then pass=$$((pass+1)); \
	  else echo "FAILED: $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "interop: $$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ]

## make soak: the long reliability runs (root): 60 s of wire faults; 10,000 valid + 10,000 malformed datagrams per
## second for 20 s at a receiver's ARC port, its transmitter's, and the receiver's mDNS responder (10 ms latency);
## 100 kill -9 rounds of the crash-safe state test. About 6 minutes.
soak: setup-test
	$(SWIFT) build $(SWIFT_FLAGS)
	@set -e; fail=0; \
	for t in faults flood crashstate; do \
	  echo "== soak: Tests/interop/$$t.sh"; \
	  if FAULT_SECONDS=60 FLOOD_RATE=10000 FLOOD_SECONDS=20 FLOOD_LATENCY_MS=10 FLOOD_LATE_PERMILLE=0 KILLS=100 INFERNO_BIN=$(abspath $(BIN)) VENV=$(abspath $(VENV)) \
	     bash Tests/interop/$$t.sh; then :; else echo "FAILED: $$t"; fail=$$((fail+1)); fi; \
	done; \
	[ $$fail -eq 0 ]

## make bench [QUICK=1] [ROWS=5,6]: release build, then bench/bench.py (table + bench/results.json). About 11 min;
## QUICK=1 ~4 min; ROWS picks rows.
BENCH_BUILD := $(BUILD)/bench
bench:
	@bash scripts/setup.sh --bench
	$(SWIFT) build -c release --scratch-path $(BUILD)
	@mkdir -p $(BENCH_BUILD)
	cc -O2 -Wall -o $(BENCH_BUILD)/baseline bench/baseline.c
	cc -O2 -Wall -shared -fPIC -o $(BENCH_BUILD)/malloc_count.so bench/malloc_count.c -ldl
	cc -O2 -Wall -o $(BENCH_BUILD)/dnsload bench/dnsload.c
	cc -O2 -Wall -o $(BENCH_BUILD)/asload bench/asload.c
	BENCH_ROWS=$(ROWS) python3 bench/bench.py $(abspath $(BUILD)/release/inferno) $(abspath $(BENCH_BUILD)/baseline) \
	  $(abspath $(BENCH_BUILD)/malloc_count.so) $(abspath $(BENCH_BUILD)/dnsload) $(abspath $(BENCH_BUILD)/asload) \
	  $(if $(QUICK),--quick)

## make install-alsa [PREFIX=DIR] [CONFIG=release]: the ALSA plugin and the inferno executable it starts.
## Without PREFIX: into alsa-lib's plugin directory and /usr/local/bin (needs root). With PREFIX: into
## PREFIX/lib/alsa-lib and PREFIX/bin; point alsa-lib there with ALSA_PLUGIN_DIR (printed at the end).
ALSA_SYSTEM_DIR = $(shell pkg-config --variable=libdir alsa 2>/dev/null || echo /usr/lib)/alsa-lib
install-alsa: build
	@if [ -n "$(PREFIX)" ]; then plugdir="$(PREFIX)/lib/alsa-lib"; bindir="$(PREFIX)/bin"; \
	 else plugdir="$(ALSA_SYSTEM_DIR)"; bindir="/usr/local/bin"; fi; \
	 install -d "$$plugdir" "$$bindir" && \
	 install -m 0644 $(BUILD)/$(CONFIG)/libasound_module_pcm_inferno.so "$$plugdir/" && \
	 install -m 0755 $(BIN) "$$bindir/inferno" && \
	 echo "installed $$plugdir/libasound_module_pcm_inferno.so and $$bindir/inferno" && \
	 if [ -n "$(PREFIX)" ]; then echo "ALSA_PLUGIN_DIR=$$plugdir (export it so alsa-lib finds the plugin)"; fi

## Fuzzing (README "Fuzzing and sanitizers"): one libFuzzer executable, every target inside, chosen by FUZZ_TARGET.
## It is built with swiftc directly (not SwiftPM) from InfernoProtocol plus the few files of InfernoAoDNS and
## InfernoDevice that hold the AoDNS record decoders and the state-file loader, so it builds in about a minute.
SWIFTC           ?= swiftc
FUZZ_DIR         := .build-fuzz
FUZZ_BIN         := $(FUZZ_DIR)/inferno-fuzz
FUZZ_SECONDS     ?= 60
FUZZ_JOBS        ?= 2
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS     ?=
FUZZ_PROTO_SRC   := $(wildcard Sources/InfernoProtocol/*.swift)
FUZZ_EXTRA_SRC   := Sources/InfernoAoDNS/AoDNSFormat.swift Sources/InfernoAoDNS/Zlib.swift \
                    Sources/InfernoDevice/DeviceState.swift Sources/InfernoDevice/DeviceID.swift
FUZZ_SRC         := $(wildcard Tests/fuzz/*.swift)

$(FUZZ_DIR)/obj/InfernoProtocol.o: $(FUZZ_PROTO_SRC)
	@mkdir -p $(FUZZ_DIR)/obj
	$(SWIFTC) -parse-as-library -module-name InfernoProtocol -sanitize=fuzzer -O -wmo \
	  -emit-module -emit-module-path $(FUZZ_DIR)/obj/InfernoProtocol.swiftmodule -c $(FUZZ_PROTO_SRC) -o $@

$(FUZZ_BIN): $(FUZZ_DIR)/obj/InfernoProtocol.o $(FUZZ_SRC) $(FUZZ_EXTRA_SRC)
	$(SWIFTC) -parse-as-library -module-name InfernoFuzz -sanitize=fuzzer -O -I $(FUZZ_DIR)/obj -I Sources/CZlib \
	  $(FUZZ_SRC) $(FUZZ_EXTRA_SRC) $(FUZZ_DIR)/obj/InfernoProtocol.o -lz -o $@

fuzz-build: $(FUZZ_BIN)

## make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2] [FUZZ_TARGETS="arc dns"]: every target for FUZZ_SECONDS, one line each.
fuzz: setup fuzz-build
	@bash scripts/fuzz.sh $(abspath $(FUZZ_BIN)) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

## The short run `make test` does: every target FUZZ_SMOKE_SECONDS, two at a time.
fuzz-smoke: fuzz-build
	@bash scripts/fuzz.sh $(abspath $(FUZZ_BIN)) $(FUZZ_SMOKE_SECONDS) 2 $(FUZZ_TARGETS)

## Regenerates the committed seed corpus Tests/fuzz/corpus (generated valid messages + captured packets).
fuzz-seeds: fuzz-build
	@bash scripts/fuzz-seeds.sh $(abspath $(FUZZ_BIN))

## make test-sanitize: unit tests under AddressSanitizer and ThreadSanitizer (scratch paths .build-asan,
## .build-tsan), then interop scripts with the sanitized inferno. Not part of `make test` (slow). audiosocket.sh
## is TSan-only: under ASan its memory-growth check sees ASan's quarantine, not a leak.
SANITIZE_INTEROP_ASAN ?= Tests/interop/media.sh
SANITIZE_INTEROP_TSAN ?= Tests/interop/media.sh Tests/interop/audiosocket.sh
test-sanitize: setup-test
	@ASAN_INTEROP="$(SANITIZE_INTEROP_ASAN)" TSAN_INTEROP="$(SANITIZE_INTEROP_TSAN)" \
	  bash scripts/test-sanitize.sh "$(SWIFT)" $(abspath $(VENV))

clean:
	rm -rf $(BUILD) $(FUZZ_DIR)
