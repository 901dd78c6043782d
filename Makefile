# Inferno for Swift. The two commands: `make run` and `make test` (both install what is missing first).
SWIFT      ?= swift
BUILD      ?= .build
CONFIG     ?= debug
VENV       := $(BUILD)/venv
BIN        := $(BUILD)/$(CONFIG)/inferno
RUN_ARGS   ?= demo
SWIFT_FLAGS := -c $(CONFIG) --scratch-path $(BUILD)

.PHONY: all setup setup-test build run test test-unit test-interop clean

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

clean:
	rm -rf $(BUILD)
