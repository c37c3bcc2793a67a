# Yizhan — build, run, test.  `make run` and `make test` are the two commands a newcomer needs.
CC       ?= cc
PKGS     := libevent libevent_pthreads libpq jansson libjwt openssl libqrencode xlsxwriter zlib libbrotlienc libzip expat pangocairo cairo-pdf libcurl
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT      ?= -O2 -g
CFLAGS   += $(CSTD) $(WARN) $(OPT) -MMD -MP -Iserver $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

BUILD    ?= build
# build/gen/spec_fields.h: the request bodies' field tables, made from the spec
# (server/api/spec_fields.py, python3 + python3-yaml; api.h includes it)
GEN_H    := $(BUILD)/gen/spec_fields.h
CFLAGS   += -I$(BUILD)/gen
SRC      := $(shell find server -name '*.c' ! -name main.c | sort)
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/server/main.o
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
PYTEST   := /usr/bin/python3 -m pytest

# Quiet by default: one short line per compiled file or linked program;
# `make V=1` prints the full commands.  `make run` passes SAY= to print nothing
# per file (it says "build: ..." once).
V        ?= 0
ifeq ($(V),1)
Q        :=
SAY      :=
else
Q        := @
SAY      ?= printf '  %-4s %s\n'
endif

.PHONY: all deps run demo-accounts test test-fast unit integration asan bench clean fmt fuzz fuzz-build test-cluster valgrind spec-check lint lint-deps fmt-check

all: $(BUILD)/yizhan

$(BUILD)/yizhan: $(OBJ) $(MAIN_OBJ)
	$(Q)$(if $(SAY),$(SAY) LD $@;)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/test_unit: $(OBJ) $(UNIT_OBJ)
	$(Q)$(if $(SAY),$(SAY) LD $@;)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(Q)$(if $(SAY),$(SAY) CC $<;)$(CC) $(CFLAGS) -c -o $@ $<

$(GEN_H): api/openapi.yaml server/api/spec_fields.py
	@mkdir -p $(dir $@)
	$(Q)$(if $(SAY),$(SAY) GEN $@;)python3 server/api/spec_fields.py api/openapi.yaml >$@.tmp && mv $@.tmp $@

deps:
	@bash deploy/local/deps.sh

# the build says one line (or nothing when build/yizhan is current); V=1 shows it all
run: deps
	@$(MAKE) --no-print-directory -q all 2>/dev/null || { [ "$(V)" = 1 ] || echo "build: compiling $(BUILD)/yizhan (make V=1 shows the commands)"; \
	  $(MAKE) --no-print-directory all SAY=; }
	@bash deploy/local/run.sh

# the demo accounts, their password and the addresses, as `make run` printed them
demo-accounts:
	@bash deploy/local/run.sh --accounts

unit: $(BUILD)/test_unit
	$(BUILD)/test_unit

integration: $(BUILD)/yizhan
	YIZHAN_BIN=$(abspath $(BUILD)/yizhan) $(PYTEST) -q tests/integration

test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/test_unit
	@bash tests/run.sh $(BUILD)

# A quick check while working: the unit tests and the integration tests not
# marked slow (pytest -m "not slow"; tests/README.md says which and why).
# make test runs everything; tests/README.md gives the measured times of both.
# pytest's rewritten test modules are kept in __pycache__ even where the
# environment says not to write bytecode: collecting took 55 s at load 15
# with every module rewritten again, 12 s from the cache.
test-fast: deps
	@$(MAKE) --no-print-directory all $(BUILD)/test_unit
	@$(BUILD)/test_unit >$(BUILD)/test_unit.out || { cat $(BUILD)/test_unit.out; exit 1; }; tail -n 1 $(BUILD)/test_unit.out
	@env -u PYTHONDONTWRITEBYTECODE YIZHAN_BIN=$(abspath $(BUILD)/yizhan) $(PYTEST) -q -m "not slow" tests/integration

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" test

# the integration suite against the server under valgrind memcheck (no invalid
# access, no definite leaks at exit); VALGRIND_TESTS picks the test files
valgrind: deps
	@$(MAKE) --no-print-directory all
	@bash tests/valgrind.sh $(VALGRIND_TESTS)

# every implemented operation through Prism in validating proxy mode, plus
# the spec lint: any request or response that does not match the spec fails
spec-check: deps
	@$(MAKE) --no-print-directory all
	@bash tests/specproxy/run.sh

# primary + streaming replica, two instances, nginx in front, all on loopback
test-cluster: deps
	@$(MAKE) --no-print-directory all
	@bash tests/cluster/run.sh

# make bench: bench/run.sh, then search at a province's scale (BENCH_SEARCH_LISTINGS listings,
# empty: skip), then issue #23's figures in one table (bench/lib/issue23.py)
BENCH_SEARCH_LISTINGS ?= 1000000
bench: deps
	@$(MAKE) --no-print-directory all
	@d="$${BENCH_RESULTS_DIR:-bench/results}"; mkdir -p "$$d"; stamp="$$(mktemp)"; st=0; \
	bash bench/run.sh || st=$$?; \
	if [ -n "$(BENCH_SEARCH_LISTINGS)" ] && [ -f bench/search/run.sh ]; then \
	  bash bench/search/run.sh --listings $(BENCH_SEARCH_LISTINGS) || st=$$?; fi; \
	perf="$$(find "$$d" -maxdepth 1 -name 'perf-*.json' -newer "$$stamp" | sort | tail -n 1)"; \
	search="$$(find "$$d" -maxdepth 1 -name 'search-*.json' -newer "$$stamp" | sort | tail -n 1)"; \
	rm -f "$$stamp"; [ -z "$$perf" ] || python3 bench/lib/issue23.py "$$perf" $$search; exit $$st

# libFuzzer targets (clang, ASan + UBSan) over the pure parts: HTTP head parser,
# router, body gate, credit codes, canonical JSON, tokens.  FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="$(FUZZ_CFLAGS)" WARN="-Wall -Werror -Wno-unused-parameter" \
	  $(OBJ:$(BUILD)/%=build-fuzz/%)
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -Iserver $(shell pkg-config --cflags $(PKGS)) \
	    -o build-fuzz/$$n $$f $(OBJ:$(BUILD)/%=build-fuzz/%) $(LDLIBS) || exit 1; done

fuzz: deps fuzz-build
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# The C house style (.clang-format, clang-format 14): make fmt rewrites the
# C files of server/ and tests/ in place; make fmt-check (run by .ci/run) names
# the files that differ and fails.  Run make fmt before landing.
FMT_SRC  := $(shell find server tests -name '*.[ch]' -not -path '*/node_modules/*' | sort)
fmt: lint-deps
	@clang-format -i $(FMT_SRC)
fmt-check: lint-deps
	@bad=$$(for f in $(FMT_SRC); do clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "fmt: these files are not in the house style (make fmt rewrites them):"; \
	  echo "$$bad" | sed 's/^/  /'; exit 1; fi; echo "fmt: clean ($(words $(FMT_SRC)) files)"

# Static analysis of server/: cppcheck (warnings, portability) and clang-tidy
# (the clang static analyzer and the bugprone checks; .clang-tidy says which are
# off and why).  Any finding fails.  clang-tidy runs one file per job (make -j2
# lint) and remembers a clean file in $(BUILD)/lint/ until it or a header changes.
LINT_C   := $(shell find server -name '*.c' | sort)
LINT_H   := $(shell find server -name '*.h')
LINT_OK  := $(LINT_C:%.c=$(BUILD)/lint/%.ok)
lint: lint-deps $(LINT_OK) $(GEN_H)
	$(Q)$(if $(SAY),$(SAY) LINT cppcheck;)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --inline-suppr --std=c11 -D_GNU_SOURCE -Iserver -I$(BUILD)/gen -j2 server
	@echo "lint: clean ($(words $(LINT_C)) files: cppcheck, clang-tidy)"

lint-deps:
	@YIZHAN_DEPS_LINT=1 bash deploy/local/deps.sh

$(BUILD)/lint/%.ok: %.c $(LINT_H) .clang-tidy | lint-deps
	@mkdir -p $(dir $@)
	$(Q)$(if $(SAY),$(SAY) TIDY $<;)clang-tidy --quiet $< -- $(CSTD) -Iserver -I$(BUILD)/gen \
	  $(shell pkg-config --cflags $(PKGS) 2>/dev/null) >$@.log 2>&1 || { grep -v ' warnings\? generated' $@.log; exit 1; }
	@mv $@.log $@
# only api/ (through api.h) and main.c include the spec's field tables: a spec
# change checks those again, not all of server/
$(filter $(BUILD)/lint/server/api/%,$(LINT_OK)) $(BUILD)/lint/server/main.ok: $(GEN_H)

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
