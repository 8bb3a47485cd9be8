# privman: one non-recursive Makefile. `make` builds into $(BUILD)/.
#   make                 library (shared + static; both export only the API of
#                        include/privman.h) and the `privman` command
#   make check           install missing packages, build, run every test
#   make demo            install missing packages, build, run the demo
#   make asan            the whole test suite under ASan + UBSan (in build-asan/)
#   make fuzz            run each libFuzzer harness for FUZZ_TIME seconds
#   make fuzz-coverage   line coverage of the root side reached by the harnesses
#   make bench           benchmarks (ratios measured in one run)
#   make install         PREFIX=/usr/local DESTDIR= SYSCONFDIR=$(PREFIX)/etc

PREFIX     ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=

BUILD      ?= build
VERSION     = 0.1.0
SOVERSION   = 0

CC         ?= cc
CFLAGS     ?= -O2 -g
WARNINGS    = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wundef -Wpointer-arith \
              -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
              -Wimplicit-fallthrough -Wvla -Wcast-qual -Wno-unused-parameter
HARDEN      = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC
DEFS        = -D_GNU_SOURCE -DPRIVMAN_SYSCONFDIR='"$(SYSCONFDIR)"' \
              -DPRIVMAN_VERSION='"$(VERSION)"'
SANITIZE   ?=
ALL_CFLAGS  = -std=c11 $(WARNINGS) $(HARDEN) $(DEFS) $(SANITIZE) -Iinclude -Isrc -I$(BUILD)/gen $(CFLAGS)
LIBS        = -lcap -lpam -lseccomp
LDFLAGS    ?=
ALL_LDFLAGS = $(SANITIZE) -Wl,-z,relro,-z,now $(LDFLAGS)

LIB_SRC     = $(sort $(wildcard src/*/*.c))
LIB_OBJ     = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC    = $(sort $(wildcard tools/*.c))
TOOL_OBJ    = $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC    = $(sort $(wildcard tests/test_*.c))
TEST_BIN    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTHELP_SRC = $(sort $(wildcard tests/helpers/*.c))
TESTHELP_BIN = $(TESTHELP_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
EXAMPLE_SRC = $(sort $(wildcard examples/*.c))
EXAMPLE_BIN = $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC   = $(sort $(wildcard bench/*.c))
BENCH_BIN   = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC    = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN    = $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
MAN_PAGES   = $(sort $(wildcard man/*.[1-8]))
COMPAT_SRC  = $(sort $(wildcard tests/compat/*.c))
COMPAT_BIN  = $(COMPAT_SRC:tests/compat/%.c=$(BUILD)/tests/compat/%)

SHLIB       = $(BUILD)/libprivman.so.$(VERSION)
STLIB       = $(BUILD)/libprivman.a
# Every object as it is, for what links the library's internals (tests,
# the privman command): never installed.
INTLIB      = $(BUILD)/libprivman-internal.a
PROGRAM     = $(BUILD)/privman
# The exported API: exactly the functions of include/privman.h.
SYMBOL_MAP  = src/libprivman.map
HIJACK_BIN  = $(BUILD)/tests/hijack/hijack-shared $(BUILD)/tests/hijack/hijack-static

FUZZ_TIME  ?= 60

# `make V=1` shows whole command lines.
ifeq ($(V),1)
Q_CC =
Q_LD =
else
Q_CC = @echo "  CC      $<";
Q_LD = @echo "  LD      $@";
endif

.PHONY: all deps check test asan fuzz fuzz-coverage bench demo install uninstall clean
.DELETE_ON_ERROR:

all: $(SHLIB) $(STLIB) $(PROGRAM) $(BUILD)/privman.pc

# The configured paths are compiled in: rebuild when they change.
CONFIG_STAMP = $(BUILD)/config.stamp
CONFIG_TEXT  = $(PREFIX) $(SYSCONFDIR) $(LIBDIR) $(INCLUDEDIR) $(VERSION) $(SANITIZE) $(CFLAGS)
$(shell mkdir -p $(BUILD); [ "$$(cat $(CONFIG_STAMP) 2>/dev/null)" = "$(CONFIG_TEXT)" ] || \
	echo "$(CONFIG_TEXT)" > $(CONFIG_STAMP))

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard src/*/*.h include/*.h tools/*.h tests/*.h) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# A program's own names must never replace the library's: only the API
# (include/privman.h marks it) is visible outside the library.
$(LIB_OBJ): ALL_CFLAGS += -fvisibility=hidden

# The namespace filter's BPF, made on the build machine by the rules of
# src/scope/namespace_filter.c (libseccomp) and compiled into drop_plan.o:
# no process runs libseccomp's compiler for it. The generator only runs
# here, so it is built without the sanitizer flags.
GEN_BPF      = $(BUILD)/gen/namespace_bpf.h
GEN_BPF_TOOL = $(BUILD)/gen/namespace_bpf_gen
GEN_BPF_SRC  = src/scope/gen/namespace_bpf_gen.c src/scope/namespace_filter.c

$(GEN_BPF_TOOL): $(GEN_BPF_SRC) src/scope/namespace_filter.h $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) -std=c11 $(WARNINGS) $(HARDEN) $(DEFS) -Iinclude -Isrc $(CFLAGS) \
	    -o $@ $(GEN_BPF_SRC) -lseccomp

$(GEN_BPF): $(GEN_BPF_TOOL)
	@echo "  GEN     $@"
	@$(GEN_BPF_TOOL) > $@

$(BUILD)/obj/src/scope/drop_plan.o: $(GEN_BPF)

# The shared library exports the API and nothing else, and binds its own
# calls to itself.
$(SHLIB): $(LIB_OBJ) $(SYMBOL_MAP)
	$(Q_LD)$(CC) -shared -Wl,-soname,libprivman.so.$(SOVERSION) \
	    -Wl,--version-script=$(SYMBOL_MAP) -Wl,-Bsymbolic $(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(LIBS)
	@ln -sf libprivman.so.$(VERSION) $(BUILD)/libprivman.so.$(SOVERSION)
	@ln -sf libprivman.so.$(SOVERSION) $(BUILD)/libprivman.so

# The static library is one object whose internal names are local: a
# program linked with it may define any name but the API's.
$(BUILD)/obj/libprivman.o: $(LIB_OBJ)
	$(Q_LD)$(CC) -r -nostdlib -o $@.tmp $(LIB_OBJ)
	@objcopy --localize-hidden $@.tmp $@
	@rm -f $@.tmp

$(STLIB): $(BUILD)/obj/libprivman.o
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(INTLIB): $(LIB_OBJ)
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(PROGRAM): $(TOOL_OBJ) $(INTLIB)
	$(Q_LD)$(CC) $(ALL_LDFLAGS) -o $@ $(TOOL_OBJ) $(INTLIB) $(LIBS)

$(BUILD)/privman.pc: scripts/privman.pc.in Makefile $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(BUILD)/tests/%: tests/%.c $(INTLIB) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(INTLIB) $(LIBS) -lcriterion

# tests/test_layout.c reads the source tree it was built from.
$(BUILD)/tests/test_layout: private ALL_CFLAGS += -DPRIVMAN_SOURCE_DIR='"$(CURDIR)"'

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(INTLIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(INTLIB) $(LIBS) -lpthread

# A program that defines the library's internal names, linked as a user
# would link it: with the shared library, and with the static one.
$(BUILD)/tests/hijack/hijack-shared: tests/hijack/hijack.c $(SHLIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(BUILD) -lprivman \
	    -Wl,-rpath,$(abspath $(BUILD))

$(BUILD)/tests/hijack/hijack-static: tests/hijack/hijack.c $(STLIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STLIB) $(LIBS)

$(BUILD)/examples/%: examples/%.c $(STLIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STLIB) $(LIBS) -lpthread

$(BUILD)/bench/%: bench/%.c $(STLIB) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STLIB) $(LIBS) -lpthread

# Programs written for the original Privman, built as a user builds them:
# against the installed library (a staged `make install`), with nothing but
# what pkg-config says (PKG_CONFIG_LIBDIR: no other privman.pc is found;
# the sysroot puts the stage in front of its paths). The rpath is the one
# thing added, so that the staged shared library is the one that runs.
# tests/test_compat.c checks that the header and library came from the stage.
COMPAT_STAGE = $(abspath $(BUILD))/stage
COMPAT_PKG   = PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$(COMPAT_STAGE)$(LIBDIR)/pkgconfig \
               PKG_CONFIG_SYSROOT_DIR=$(COMPAT_STAGE) pkg-config

$(BUILD)/stage.stamp: $(SHLIB) $(STLIB) $(PROGRAM) $(BUILD)/privman.pc include/privman.h
	@rm -rf $(COMPAT_STAGE)
	@$(MAKE) --no-print-directory -s install DESTDIR=$(COMPAT_STAGE) >/dev/null
	@touch $@

$(BUILD)/tests/compat/%: tests/compat/%.c $(BUILD)/stage.stamp
	@mkdir -p $(dir $@)
	$(Q_LD)cflags=$$($(COMPAT_PKG) --cflags privman) && libs=$$($(COMPAT_PKG) --libs privman) && \
	    $(CC) $(CFLAGS) $(SANITIZE) -Wall -Werror -MD -MF $@.d $$cflags -o $@ $< $$libs \
	    -Wl,-rpath,$(COMPAT_STAGE)$(LIBDIR)

tests-built: all $(TEST_BIN) $(TESTHELP_BIN) $(EXAMPLE_BIN) $(HIJACK_BIN) $(COMPAT_BIN)
.PHONY: tests-built

# Run every test binary; the last line sums them up.
test: tests-built
	@BUILD=$(BUILD) sh scripts/run-tests.sh $(TEST_BIN)

check: deps
	@$(MAKE) --no-print-directory test

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS='-O1 -g -fno-omit-frame-pointer' \
	    SANITIZE='-fsanitize=address,undefined -fno-sanitize-recover=all' test

# libFuzzer harnesses need clang; each links the library sources directly.
# A harness that includes a library source to reach its static functions
# (a line `#include "../src/x.c"`) is linked without that file.
HASH := \#
fuzz_included = $(shell sed -n 's|^$(HASH)include "\.\./\(src/[a-z_]*/[a-z_]*\.c\)"$$|\1|p' $(1))
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard src/*/*.h) $(GEN_BPF)
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 $(DEFS) -Iinclude -Isrc -I$(BUILD)/gen \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(filter-out $(call fuzz_included,$<),$(LIB_SRC)) $(LIBS) -lpthread

# Every harness runs, even after one failed; the status says whether any did.
# Crashes are written to $(BUILD)/fuzz/. fuzz_monitor aborts when the monitor
# blocks on a request; PMFUZZ_BLOCK_OK=1 in the environment only counts it.
fuzz: deps $(FUZZ_BIN)
	@failed=""; for f in $(FUZZ_BIN); do \
	    name=$${f##*/fuzz_}; corpus=fuzz/corpus/$$name; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$name $$corpus; \
	    echo "== $$f for $(FUZZ_TIME)s (corpus $$corpus)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-$$name $$corpus || \
	        failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (see $(BUILD)/fuzz/crash-*)"; exit 1; fi

# Build the harnesses with clang's coverage, run each over its corpus and
# fuzz it for FUZZ_COV_TIME seconds, print the line coverage per root-side file.
FUZZ_COV_TIME ?= 30
fuzz-coverage: deps
	@BUILD=$(BUILD) FUZZ_COV_TIME=$(FUZZ_COV_TIME) sh scripts/fuzz-coverage.sh

bench: deps all $(BENCH_BIN) $(TESTHELP_BIN)
	@BUILD=$(BUILD) sh scripts/bench.sh $(BENCH_BIN)

demo: deps
	@$(MAKE) --no-print-directory all $(EXAMPLE_BIN)
	@BUILD=$(BUILD) sh scripts/demo.sh

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(SYSCONFDIR)/privman.d
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libprivman.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libprivman.so.$(SOVERSION)
	ln -sf libprivman.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libprivman.so
	install -m 0644 include/privman.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(BUILD)/privman.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 0755 $(PROGRAM) $(DESTDIR)$(BINDIR)/
	for m in $(MAN_PAGES); do \
	    s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	    install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libprivman.* $(DESTDIR)$(INCLUDEDIR)/privman.h \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/privman.pc $(DESTDIR)$(BINDIR)/privman
	for m in $(MAN_PAGES); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

clean:
	rm -rf build build-asan
