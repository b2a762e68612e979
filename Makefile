# gimme-aws-mini
#
#   make                 build ./gimme-aws-mini
#   make run             install missing packages, build, serve the default instance
#   make test            install missing packages, build, run every test
#   make SANITIZE=address,undefined   an ASan/UBSan build (objects kept apart)
#   make fuzz            run every libFuzzer target for FUZZ_SECONDS each
#   make bench           wrk against the server and nginx, as ratios; start-up time and
#                        memory (bench/startup); REF=BIN: an older build in the same run
#   make valgrind        the wire and own-credentials tests under valgrind
#   make image           the container image IMAGE (podman, else docker or buildah;
#                        the Debian 12 base made with debootstrap if no registry answers)

PROG	 = gimme-aws-mini
CC	?= cc
PKGS	 = openssl jansson expat yaml-0.1
# libcurl: its headers only; httpc/curl.c loads the library with dlopen on first use
CURL_CFLAGS = $(shell pkg-config --cflags libcurl 2>/dev/null)
SANITIZE ?=
FUZZ_SECONDS ?= 60
JOBS	?= $(shell nproc 2>/dev/null || echo 2)	# make test builds with this many jobs
IMAGE	?= gimme-aws-mini:0.1.0

WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2 -Wsign-compare -Wvla -Werror=implicit-function-declaration
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS	?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(HARDEN) $(CFLAGS) $(CPPFLAGS) \
	     $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CURL_CFLAGS)
LDLIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDFLAGS	+= -pie -Wl,-z,relro,-z,now

ifneq ($(SANITIZE),)
BUILD	 = build/san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS	+= -fsanitize=$(SANITIZE)
else
BUILD	 = build/opt
endif

SRC	 = src/main.c $(wildcard src/*/*.c)
LIBSRC	 = $(filter-out src/main.c,$(SRC))
LIBOBJ	 = $(LIBSRC:src/%.c=$(BUILD)/%.o)
HDR	 = $(wildcard src/*/*.h)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/%)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

# ./gimme-aws-mini is a copy of $(BUILD)/gimme-aws-mini; build/.prog-build
# names the build it came from, so switching SANITIZE copies the other one.
PROGSTAMP = build/.prog-build
ifneq ($(shell cat $(PROGSTAMP) 2>/dev/null),$(BUILD))
PROG_FORCE = FORCE
endif

.PHONY: all run test unit-build fuzz fuzz-build bench bench-cost bench-pods valgrind deps deps-test san-bin image clean FORCE
all: $(PROG)

$(PROG): $(BUILD)/$(PROG) $(PROG_FORCE)
	cp $(BUILD)/$(PROG) $@
	echo $(BUILD) > $(PROGSTAMP)

$(BUILD)/$(PROG): $(BUILD)/main.o $(LIBOBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/main.o $(LIBOBJ) $(LDLIBS)

# The ASan+UBSan server the test suite also runs the wire tests against,
# kept apart from ./gimme-aws-mini.
san-bin:
	$(MAKE) SANITIZE=address,undefined build/san/$(PROG) unit-build

$(BUILD)/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

$(BUILD):
	mkdir -p $@

# Unit tests: one cmocka binary per tests/unit/test_*.c, linked against an
# archive of every module except main.c (only what a test uses is pulled in).
$(BUILD)/libgimme.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

$(BUILD)/test_%: tests/unit/test_%.c $(BUILD)/libgimme.a $(HDR) $(wildcard tests/unit/*.h)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libgimme.a $(LDLIBS) \
	    $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# test_roles counts the signatures and snapshot builds a role's refresh makes
$(BUILD)/test_roles: LDFLAGS += -Wl,--wrap=identity_sign,--wrap=snapshot_build

unit-build: $(UNIT_BIN)

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

run: deps
	$(MAKE) $(PROG)
	./$(PROG) serve

test: deps-test
	$(MAKE) -j$(JOBS) $(PROG) unit-build fuzz-build
	$(MAKE) -j$(JOBS) san-bin
	UNIT_DIR=$(BUILD) SAN_BIN=build/san/$(PROG) tests/run

# libFuzzer targets: clang, with ASan and UBSan, linked against an archive of
# every module but main.c, each module compiled once for all the targets
# (instrumented for the fuzzer, without its main).
FUZZ_CFLAGS = -std=c11 -g -O1 -D_GNU_SOURCE -DFUZZING -Isrc \
	      $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CURL_CFLAGS)
FUZZ_OBJ = $(LIBSRC:src/%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/libmodules.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $(FUZZ_OBJ)

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build/fuzz/libmodules.a $(HDR)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    build/fuzz/libmodules.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: deps-test fuzz-build
	@for f in $(FUZZ_BIN); do \
	    n=$${f##*/fuzz_}; mkdir -p build/fuzz/work-$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build/fuzz/work-$$n fuzz/corpus/$$n || exit 1; \
	done

# The wire and own-credentials tests against the daemon under valgrind (a few
# minutes; not part of `make test`).  IMDS_TEST_SLOW stretches the harness's
# start and stop timeouts for valgrind's pace.
valgrind: $(PROG)
	@command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
	@rc=0; for t in tests/wire/test_*.py tests/clients/test_own_credentials.py; do \
	    echo "valgrind: $$t"; \
	    last=$$(GIMME_BIN=$$PWD/scripts/valgrind-server IMDS_TEST_SLOW=6 \
	        /usr/bin/python3 $$t 2>/dev/null | tail -n 1); \
	    echo "    $$last"; \
	    case "$$last" in *" passed, 0 failed"*) ;; *) rc=1 ;; esac; \
	done; exit $$rc

# REF=path/to/an/older/gimme-aws-mini: that build measured in the same run too
# (its wrk figures, and bench/startup's medians interleaved with ours, as ratios).
bench: $(PROG)
	@scripts/deps.sh bench
	bench/run
	@if [ -n "$(REF)" ]; then echo "== the reference build: $(REF)"; GIMME_BIN="$(REF)" bench/run; fi
	bench/startup $(if $(REF),--ref "$(REF)")

# Instructions per request under callgrind (the same whatever else the
# machine does); with REF=, that build's too and the ratios.
bench-cost: $(PROG)
	@scripts/deps.sh bench
	bench/cost $(REF)

# --pod-roles with 1,000 pods and 100 roles against the single-role daemon, in one run.
bench-pods: $(PROG)
	@scripts/deps.sh bench
	bench/pods

# The container image from Containerfile, tagged as the manifests name it;
# prints its name and size.  Layers and the base image stay cached in the
# builder's storage (see scripts/image.sh).
image:
	@scripts/deps.sh image
	scripts/image.sh $(IMAGE)

clean:
	rm -rf build $(PROG)
