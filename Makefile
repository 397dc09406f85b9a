# ac — one non-recursive Makefile.  `make` builds bin/, `make check` runs
# every test (unit, bats, and the bats suite again under ASan+UBSan),
# `make setup` installs the Debian packages the build and tests need.
VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR_INSTALL = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
BIN ?= bin

PKGS = libevent sqlite3 libpq jansson liblz4
# Evaluated once, on first use, so that `make setup all` works on a machine
# where `setup` is what installs pkg-config and the libraries.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DAC_VERSION='"$(VERSION)"' $(WARN) \
	$(CFLAGS) -Ilib -Icmd $(PKG_CFLAGS)
# Debian's nng ships no .pc file.
ALL_LIBS = $(PKG_LIBS) -lnng -lpthread -ldl -lm
# The commands load libpq only when a store is PostgreSQL (lib/pq.h); the
# unit tests also use it directly.
CMD_LIBS = $(filter-out -lpq,$(ALL_LIBS))

COMMANDS = ac-worker ac-submit ac-status ac-drain ac-cancel ac-scale ac-queue ac-schedule ac-budget
LIB_SRC = $(wildcard lib/*.c)
# The dashboard's page (ac-status --serve) is built into libac: its files
# become one generated C source (scripts/embed.sh).
DASHBOARD_FILES = lib/dashboard/index.html lib/dashboard/app.js lib/dashboard/app.css
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/dashboard_assets.o
LIBAC = $(BUILD)/libac.a
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROGRAMS = $(COMMANDS:%=$(BIN)/%)
# Example handlers written in C (examples/stream/*.c), built beside the tools.
EXAMPLE_BIN = $(BUILD)/examples/stream-noop
# The benchmarks' producer (bench/acload.c): built by `make bench` and for
# the test that runs the benchmark small, not by `all`.
ACLOAD = $(BUILD)/bench/acload

.PHONY: all check unit bats asan install uninstall clean setup demo bench bench-scale bench-flow chaos fuzz
# Objects made through chained rules are kept, not removed at the end (which
# would also print after the test summary).
.SECONDARY:
all: $(PROGRAMS) $(EXAMPLE_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/dashboard_assets.c: scripts/embed.sh $(DASHBOARD_FILES)
	@mkdir -p $(@D)
	sh scripts/embed.sh $(DASHBOARD_FILES) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/dashboard_assets.o: $(BUILD)/gen/dashboard_assets.c lib/dashboard_assets.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBAC): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BIN)/ac-%: $(BUILD)/cmd/ac-%/main.o $(BUILD)/cmd/cli.o $(LIBAC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/cmd/cli.o $(LIBAC) $(CMD_LIBS)

$(BUILD)/examples/stream-noop: examples/stream/noop.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PKG_LIBS)

$(ACLOAD): $(BUILD)/bench/acload.o $(BUILD)/cmd/cli.o $(LIBAC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/cmd/cli.o $(LIBAC) $(ALL_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBAC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIBAC) $(ALL_LIBS)

unit: $(UNIT_BIN)

# The whole suite; prints "N passed, N failed" last.
check: all unit $(ACLOAD)
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15
	sh tests/run.sh

# The same sources under ASan+UBSan, into their own build and bin folders.
asan:
	$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		build/asan/bin/ac-worker build/asan/bin/ac-submit \
		build/asan/bin/ac-status build/asan/bin/ac-drain build/asan/bin/ac-cancel \
		build/asan/bin/ac-scale build/asan/bin/ac-queue build/asan/bin/ac-schedule \
		build/asan/bin/ac-budget

# libFuzzer on the decoders of outside input (clang's libFuzzer runtime).
FUZZ_SRC = lib/control.c lib/sidechannel.c lib/util.c lib/error.c lib/compress.c
FUZZ_SECONDS ?= 300
build/fuzz/fuzz_decode: tests/fuzz/fuzz_decode.c $(FUZZ_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-Ilib $(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_decode.c $(FUZZ_SRC) \
		-lnng -ljansson -llz4 -lpthread

fuzz: build/fuzz/fuzz_decode
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		build/fuzz/corpus tests/fuzz/corpus

# The kill -9 chaos test at full size (a small one runs in `make check`).
chaos: all
	N=$${N:-2000} KILL_EVERY=$${KILL_EVERY:-2} sh tests/chaos/chaos.sh

setup:
	sh scripts/setup.sh

demo: all
	sh examples/demo.sh

bench: all $(ACLOAD)
	sh bench/run.sh

# The store's own cycle time at a given queue depth (bench/claimbench.c).
$(BUILD)/bench/claimbench: $(BUILD)/bench/claimbench.o $(LIBAC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIBAC) $(CMD_LIBS)

# A million queued tasks: submit rate, claim time by depth, ac-status
# latency, worker RSS (minutes; not part of `make check`).
bench-scale: all $(BUILD)/bench/claimbench
	@CLAIMBENCH=$(BUILD)/bench/claimbench sh bench/scale.sh

# What flow control (ac-queue limit) costs a claim (bench/flow.sh).
bench-flow: all
	sh bench/flow.sh

# The completions: bash and fish load a file named like the command being
# completed, so completions/ac.bash and completions/ac.fish are installed
# once under each command's name (each copy covers every command); zsh
# reads the #compdef line of its one file _ac.
install: all
	install -d $(DESTDIR)$(BINDIR_INSTALL) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(PROGRAMS) bin/ac $(DESTDIR)$(BINDIR_INSTALL)
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/*.7 $(DESTDIR)$(MANDIR)/man7
	for c in ac $(COMMANDS); do \
		install -m 0644 completions/ac.bash $(DESTDIR)$(BASHCOMPDIR)/$$c && \
		install -m 0644 completions/ac.fish $(DESTDIR)$(FISHCOMPDIR)/$$c.fish || exit 1; \
	done
	install -m 0644 completions/_ac $(DESTDIR)$(ZSHCOMPDIR)/_ac

uninstall:
	for c in ac $(COMMANDS); do \
		rm -f $(DESTDIR)$(BINDIR_INSTALL)/$$c $(DESTDIR)$(BASHCOMPDIR)/$$c \
			$(DESTDIR)$(FISHCOMPDIR)/$$c.fish; \
	done
	rm -f $(COMMANDS:%=$(DESTDIR)$(MANDIR)/man1/%.1) $(DESTDIR)$(MANDIR)/man1/ac.1 \
		$(DESTDIR)$(MANDIR)/man7/ac.7 $(DESTDIR)$(ZSHCOMPDIR)/_ac

clean:
	rm -rf $(BUILD) build $(PROGRAMS)

-include $(LIB_OBJ:.o=.d) $(COMMANDS:%=$(BUILD)/cmd/%/main.d) $(BUILD)/cmd/cli.d \
	$(BUILD)/bench/acload.d $(UNIT_SRC:%.c=$(BUILD)/%.d) $(BUILD)/bench/claimbench.d
