# Thin wrapper over Meson + Ninja.  `make run` and `make test` are all a
# fresh Debian 12 machine needs (see README.md).
BUILD ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
MESON_OPTS ?=

.PHONY: all deps test-deps run demo test test-asan test-tsan clang fuzz fuzz-ci clean install

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh build test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

# A switch for VMs, no root: a NAT uplink (ssh -p 2222 localhost reaches
# the guest's port 22) and two sockets for QEMU (stream, vhost-user);
# prints QEMU's options.
run: all
	$(BUILD)/netbe switch --default

# The self-test: 10 000 frames through two pipe pairs and a switch.
demo: all
	$(BUILD)/netbe demo

test: test-deps all
	meson test -C $(BUILD) --print-errorlogs
	@scripts/test-summary.sh $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)

test-asan: test-deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs
	@scripts/test-summary.sh $(ASAN_BUILD) asan

TSAN_BUILD ?= build-tsan
$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false $(MESON_OPTS)

# The thread model (send and receive on two threads, loop disable/stop
# from other threads) under ThreadSanitizer: the unit suite.
test-tsan: test-deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	TSAN_OPTIONS=halt_on_error=1 meson test -C $(TSAN_BUILD) --suite unit --print-errorlogs
	@scripts/test-summary.sh $(TSAN_BUILD) tsan

$(CLANG_BUILD)/build.ninja:
	CC=clang meson setup $(CLANG_BUILD) --werror $(MESON_OPTS)

clang: test-deps $(CLANG_BUILD)/build.ninja
	ninja -C $(CLANG_BUILD)

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_lundef=false $(MESON_OPTS)

# Every fuzz target: tests/fuzz/fuzz_NAME.c with its seeds in
# tests/fuzz/corpus_NAME/, each run for FUZZ_SECONDS; new inputs go to
# $(FUZZ_BUILD)/corpus-NAME.  `make fuzz-ci` is the same for a short
# bounded time (CI; a crash fails it).
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out \
	tests/fuzz/fuzz_main.c,$(wildcard tests/fuzz/fuzz_*.c)))
fuzz: test-deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	set -e; for name in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus-$$name; \
		echo "fuzz_$$name: $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/tests/fuzz/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 $(FUZZ_BUILD)/corpus-$$name \
			tests/fuzz/corpus_$$name; \
	done

FUZZ_CI_SECONDS ?= 15
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

install: all
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)
