# wskit: one non-recursive Makefile.
#   make            build bin/ws-serve, bin/ws-watch, bin/ws-ping, bin/events-get
#   make run        install what is missing, build, start ws-serve on :3000
#   make test       install test needs, run every suite, print "N passed, N failed"
#   make asan       the same programs with ASan/UBSan, in build/asan/bin
#   make lint       clang-format and mandoc checks
#   make install    PREFIX=/usr/local, DESTDIR honoured

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/wskit

CC       ?= cc
PKG_CONFIG ?= pkg-config
PKGS      = libuv libssl libcrypto libcurl jansson hiredis zlib
# Debian ships no .pc file for these two.
WSLAY_LIBS       ?= -lwslay
HTTP_PARSER_LIBS ?= -lhttp_parser

CFLAGS   ?= -O2 -g
WARN      = -std=gnu11 -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes \
            -Wshadow -Wvla -Wwrite-strings -Werror
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) -D_GNU_SOURCE -MMD -MP -Ilib $(PKG_CFLAGS) \
             -DWSK_VERSION='"$(VERSION)"' -DWSK_DATADIR='"$(DATADIR)"' $(CFLAGS)
LIBS      = $(WSLAY_LIBS) $(HTTP_PARSER_LIBS) $(PKG_LIBS) -lm

BUILD    ?= build
BIN      ?= bin

PROGS     = ws-serve ws-watch ws-ping events-get
LIB_SRC   = $(sort $(wildcard lib/*.c))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_SRC   = $(PROGS:%=cmd/%.c)
UNIT_SRC  = $(sort $(wildcard tests/unit/*.c))
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROG_BIN  = $(addprefix $(BIN)/,$(notdir $(basename $(wildcard $(CMD_SRC)))))

.SECONDARY:
Q ?= @
.PHONY: FORCE all run test unit asan lint install uninstall clean deps test-deps bench
all: $(PROG_BIN)

# Objects depend on the flags they were built with (PREFIX goes into
# WSK_DATADIR), so `make install PREFIX=/usr` rebuilds what it must.
FLAGS_FILE = $(BUILD)/.flags
$(FLAGS_FILE): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libwsk.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# cmd/tool.c: what the mains share that lib/ must not do (print, exit).
$(BIN)/%: $(BUILD)/cmd/%.o $(BUILD)/cmd/tool.o $(BUILD)/libwsk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libwsk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --browser

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN)/ws-serve --port $(or $(PORT),3000)

# The sanitizer build lives in its own folder so it never mixes objects.
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
	    CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	    all unit

test: test-deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@scripts/run-tests

bench: test-deps
	@$(MAKE) --no-print-directory all
	@scripts/bench/run $(BENCH_ARGS)

lint:
	clang-format --dry-run -Werror cmd/*.c cmd/*.h lib/*.c lib/*.h tests/unit/*.c tests/unit/*.h scripts/bench/floor.c
	mandoc -Tlint -W warning man/*.[17]

# Fuzzing (tests/fuzz/README). `make fuzz` builds the libFuzzer targets
# with clang, runs each for FUZZ_TIME seconds and then the network fuzzer
# against the ASan ws-serve; `make fuzz-replay` (run by make test) feeds
# every corpus file once to the same targets built as ASan/UBSan programs
# with $(CC) and prints TAP.
FUZZ_TIME  ?= 60
FUZZ_CC    ?= clang
FUZZ_NAMES  = $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_LIB    = $(filter-out lib/server.c lib/srv_%.c lib/client.c,$(LIB_SRC))
FUZZ_DEPS   = $(FUZZ_LIB) $(wildcard lib/*.h) tests/fuzz/fuzz.h
FUZZ_CFLAGS = $(WARN) -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) \
              -DWSK_VERSION='"$(VERSION)"' -DWSK_DATADIR='"$(DATADIR)"' \
              -DFUZZ_WEB_DIR='"$(CURDIR)/web"'
.PHONY: fuzz fuzz-deps fuzz-replay

build/fuzz/%: tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(FUZZ_LIB) $(LIBS)

build/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	@$(CC) $(FUZZ_CFLAGS) $(ASAN_FLAGS) -o $@ $< tests/fuzz/replay.c \
	    $(FUZZ_LIB) $(LIBS)

fuzz-deps:
	@scripts/install-deps --fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_NAMES:%=build/fuzz/%)
	@$(MAKE) --no-print-directory asan
	tests/fuzz/run-fuzzers $(FUZZ_TIME) $(FUZZ_NAMES)

fuzz-replay: $(FUZZ_NAMES:%=build/fuzz-replay/%)
	@echo 1..$(words $(FUZZ_NAMES)); n=0; rc=0; \
	for t in $(FUZZ_NAMES); do n=$$((n + 1)); \
	    build/fuzz-replay/$$t $$n $$t tests/fuzz/corpus/$$t || rc=1; \
	done; exit $$rc

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)/web
	install -m 755 $(PROG_BIN) $(DESTDIR)$(BINDIR)/
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/
	cp -R web/. $(DESTDIR)$(DATADIR)/web/

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(PROGS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	    $(DESTDIR)$(MANDIR)/man7/ws-protocol.7
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d) \
         $(CMD_SRC:%.c=$(BUILD)/%.d)
