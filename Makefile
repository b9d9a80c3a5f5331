# Custos build. `make` leaves the binary at ./custos; `make test` runs the whole suite
# under AddressSanitizer and UndefinedBehaviorSanitizer; `make run` starts the server on
# the embedded default. Dependencies come from pkg-config (see scripts/setup).

CC      ?= cc
BUILD   ?= release
PKGS    := libmicrohttpd libcjson sqlite3 zlib libpcre2-8 libsodium
O       := build/$(BUILD)

WARN    := -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings -fno-common -Werror
DEFS    := -D_GNU_SOURCE
ifeq ($(BUILD),san)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDOPT   := -fsanitize=address,undefined
else
OPT     := -O2 -g
LDOPT   :=
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CFLAGS_ALL = $(WARN) $(DEFS) $(OPT) -Isrc -I$(O)/gen $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(patsubst %.c,$(O)/%.o,$(LIB_SRC)) $(O)/gen/migrations.o
MIGRATIONS := $(sort $(wildcard src/store/migrations/*.sql))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRC))

.PHONY: all run test unit check-format format clean bench bench-profile bench-analytics
all: $(O)/custos $(O)/bench/loadgen $(O)/bench/identity_febrl $(O)/bench/privacy_mask \
     $(O)/bench/profile_load
ifeq ($(BUILD),release)
all: custos
custos: $(O)/custos
	@cp $< $@
endif

$(O)/custos: $(O)/src/main.o $(O)/libcustos.a
	@echo "  LD $@"
	@$(CC) $(LDOPT) -o $@ $^ $(LDLIBS_ALL)

$(O)/libcustos.a: $(LIB_OBJ)
	@rm -f $@ && ar rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(O)/gen/migrations.c: $(MIGRATIONS) scripts/embed-sql
	@mkdir -p $(dir $@)
	@scripts/embed-sql $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(O)/gen/migrations.o: $(O)/gen/migrations.c
	@$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/tests/%: tests/unit/%.c $(O)/libcustos.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(O)/libcustos.a $(LDLIBS_ALL) -lcmocka

# Fuzz targets: built here with a replay driver (tests run their corpus); build them
# for libFuzzer with `make fuzz-libfuzzer` (clang).
$(O)/fuzz/%: fuzz/%.c fuzz/replay.c $(O)/libcustos.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< fuzz/replay.c $(O)/libcustos.a $(LDLIBS_ALL)

$(O)/bench/privacy_mask: bench/privacy_mask.c $(O)/libcustos.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(O)/libcustos.a $(LDLIBS_ALL)

$(O)/bench/identity_febrl: bench/identity_febrl.c $(O)/libcustos.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(O)/libcustos.a $(LDLIBS_ALL)

$(O)/bench/analytics/custos_bench: bench/analytics/custos_bench.c $(O)/libcustos.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(O)/libcustos.a $(LDLIBS_ALL)

$(O)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(LDLIBS_ALL)

unit: $(UNIT_BIN) $(FUZZ_BIN)

# The README's test command: installs what is missing, then runs every test under
# ASan+UBSan: unit tests, fuzz corpus replay, end-to-end tests on loopback.
test:
	./scripts/setup
	$(MAKE) BUILD=san all unit
	tests/run build/san

# The README's run command: installs what is missing, builds, starts the server.
run:
	./scripts/setup
	$(MAKE) BUILD=release all
	./scripts/run-demo

bench:
	./scripts/setup
	$(MAKE) BUILD=release all
	bench/ingest

# Profile reads over HTTP at 2,000 requests/s, from memory and the old way (bench/RESULTS.md).
bench-profile:
	./scripts/setup
	$(MAKE) BUILD=release all
	bench/profile

# Analytics against DuckDB and SQLite on generated data (bench/analytics/run; a smaller
# world with BENCH_SCALE=0.01, say).
bench-analytics:
	./scripts/setup
	$(MAKE) BUILD=release all build/release/bench/analytics/gen build/release/bench/analytics/custos_bench
	bench/analytics/run

fuzz-libfuzzer:
	@mkdir -p build/fuzz
	for f in $(FUZZ_SRC); do \
	  clang -fsanitize=fuzzer,address,undefined $(WARN) $(DEFS) -O1 -g -Isrc -Ibuild/release/gen $(PKG_CFLAGS) \
	    -o build/fuzz/$$(basename $$f .c) $$f $(filter-out src/main.c,$(LIB_SRC)) build/release/gen/migrations.c $(LDLIBS_ALL) || exit 1; \
	done

format:
	clang-format -i $$(find src tests fuzz bench -name '*.[ch]')

check-format:
	clang-format --dry-run --Werror $$(find src tests fuzz bench -name '*.[ch]')

clean:
	rm -rf build custos

-include $(shell find build -name '*.d' 2>/dev/null)
