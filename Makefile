# pyspy — a sampling profiler for CPython, as small Unix tools over one library.
#
#   make            build the tools into build/bin
#   make check      install missing packages, build, run every test (also under ASan+UBSan)
#   make demo       install, build, profile a bundled example program
#   make install    PREFIX=/usr/local DESTDIR=
#   make SAN=1      sanitizer build (ASan+UBSan) into build-san/
#   make V=1        show commands

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config
PKGS := libelf libzstd sqlite3 libunwind-ptrace libunwind-generic

ifeq ($(FUZZ),1)
# libFuzzer builds (make fuzz): clang, the library instrumented for coverage
O ?= build-fuzz
CC := clang
SAN_FLAGS := -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),1)
O ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
O ?= build
SAN_FLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lelf -lzstd -lsqlite3 -lunwind-ptrace -lunwind-generic -lunwind)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	-Ilib $(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

LIB_SRCS := $(wildcard lib/*.c lib/python/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
LIBA := $(O)/libpyspy.a
TOOLS := $(patsubst tools/%.c,%,$(wildcard tools/pyspy*.c))
TOOL_BINS := $(TOOLS:%=$(O)/bin/%)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
MANS := $(wildcard man/*.[1-8])
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(O)/bench/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%.c=%)
# each fuzz target linked with a plain main that replays files (make check)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(O)/fuzz/%-replay)

.PHONY: all deps check check-valgrind check-units check-e2e check-browser check-san demo install clean layouts check-layouts bench fuzz fuzzers

all: $(TOOL_BINS)

# keep object files of tests and tools (make would delete them as intermediates)
.SECONDARY:

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/bin/%: $(O)/tools/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS)

# the live view draws with ncurses
$(O)/bin/pyspy-top: PKG_LIBS += -lncursesw

$(O)/tests/%: $(O)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS) -lcmocka

$(O)/bench/%: $(O)/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS)

$(O)/fuzz/%-replay: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/replay.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# the libFuzzer binaries themselves (make FUZZ=1 fuzzers)
$(O)/fuzz/%: $(O)/tests/fuzz/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzzers: $(FUZZ_NAMES:%=$(O)/fuzz/%)

# Fuzz each target for FUZZ_SECONDS (default 60); crashes are kept under
# build-fuzz/crashes/ (see tests/fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@$(MAKE) --no-print-directory build/bin/pyspy-index # makes the fuzz_db seeds
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

deps:
	@scripts/install-deps.sh
	@scripts/install-browser-deps.sh

units: $(UNIT_BINS) $(FUZZ_REPLAYS)

check-units: $(UNIT_BINS) $(FUZZ_REPLAYS)
	@tests/run-units.sh $(UNIT_BINS)

check-e2e: $(TOOL_BINS)
	@python3 tests/e2e/run.py --bin $(O)/bin

check-browser: all
	@scripts/install-browser-deps.sh
	@tests/browser/run.sh $(O)/bin

check-layouts:
	@scripts/gen-layouts.sh --check

# Every tool once under valgrind memcheck (make check runs a 1 s form).
VALGRIND_SECONDS ?= 5
check-valgrind: deps all
	@tests/valgrind.sh build $(VALGRIND_SECONDS)

# Everything, then everything again under ASan+UBSan.
check: deps
	@$(MAKE) --no-print-directory -j2 all units
	@tests/check.sh

check-san: deps
	@$(MAKE) --no-print-directory SAN=1 all units
	@tests/check.sh --san

demo: deps all
	@scripts/demo.sh $(O)/bin

layouts:
	@scripts/gen-layouts.sh

# Figures, not pass/fail: see bench/README.md.
bench: all units $(BENCH_BINS)
	@bench/run.sh $(O) $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s; done

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(TOOLS:%=$(O)/tools/%.d) $(BENCH_SRCS:bench/%.c=$(O)/bench/%.d) $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%.d)
