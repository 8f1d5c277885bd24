# seqd — build, run, test, bench, fuzz.  See README.md.
# `make run` and `make test` install missing Debian packages first (scripts/install-deps.sh).

CC       ?= cc
BUILD    := build
# src/ is grouped by layer, innermost first; a file may include headers of
# its own layer and of inner ones only (make check-layers, docs/architecture.md).
LAYERS   := core proto base raft server
SRC_DIRS := $(addprefix src/,$(LAYERS))
CFLAGS_COMMON := -std=gnu11 -g -Wall -Wextra -Werror -Wshadow -Wvla $(addprefix -I,$(SRC_DIRS))
CFLAGS   ?= -O2
CFLAGS   += $(CFLAGS_COMMON)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LIBS     := -lraft -luv -llz4 -lz -lssl -lcrypto -linih -lmicrohttpd -lsystemd -lm -lpthread
PORT     ?= 7379
DIR      ?= ./seqd-data
FUZZ_SECONDS ?= 60

vpath %.c $(SRC_DIRS)

# The pure leaves (no libuv, no libraft): what unit tests and fuzzers link.
CORE_SRC := $(wildcard src/core/*.c src/proto/*.c)
SHELL_SRC := $(wildcard src/base/*.c src/raft/*.c src/server/*.c)
CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(notdir $(CORE_SRC)))
SHELL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(notdir $(SHELL_SRC)))
# Unit tests mirror src/ (tests/unit/core, proto, base, raft); the history checker
# they share stays in tests/unit.
UNIT_DIRS := tests/unit $(addprefix tests/unit/,core proto base raft)
vpath test_%.c $(UNIT_DIRS)
UNIT_SRC := $(wildcard $(addsuffix /test_*.c,$(UNIT_DIRS)))
UNIT_BIN := $(patsubst %.c,$(BUILD)/%,$(notdir $(UNIT_SRC)))
UNIT_ASAN := $(patsubst %.c,$(BUILD)/asan/%,$(notdir $(UNIT_SRC)))
TEST_INC := -Itests/unit
HDRS := $(wildcard $(addsuffix /*.h,$(SRC_DIRS)))
# Included by the unit tests that check histories (one translation unit each).
TEST_HDRS := tests/unit/history.c tests/unit/history.h


.PHONY: bench-documents
.PHONY: bench-budget deb all deps run test check-layers unit unit-asan integration integration-asan crash bench fuzz clean golden
# Keep objects built by pattern rules (make would delete them as intermediates).
.SECONDARY:

all: $(BUILD)/seqd

deps:
	@bash scripts/install-deps.sh

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

# The sanitized objects also check the whole state after every apply
# (SEQ_CHECK_INVARIANTS, src/core/seq_check.c).
$(BUILD)/asan/%.o: %.c $(HDRS)
	@mkdir -p $(BUILD)/asan
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN) -DSEQ_CHECK_INVARIANTS -c $< -o $@

$(BUILD)/seqd: $(CORE_OBJ) $(SHELL_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# The whole server under AddressSanitizer/UBSan, for the integration suite.
$(BUILD)/asan/seqd: $(CORE_OBJ:$(BUILD)/%=$(BUILD)/asan/%) $(SHELL_OBJ:$(BUILD)/%=$(BUILD)/asan/%)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN) -o $@ $^ $(LIBS)

# The cluster simulation also links the raft glue (fsm, log) and libraft,
# whose raft_fixture simulates the cluster.  Explicit rules win over the
# pattern rules below.
SIM_OBJ := $(BUILD)/fsm.o $(BUILD)/log.o $(BUILD)/clock.o
$(BUILD)/test_cluster_sim: tests/unit/raft/test_cluster_sim.c $(CORE_OBJ) $(SIM_OBJ) $(HDRS) $(TEST_HDRS)
	$(CC) $(CFLAGS) $(TEST_INC) -o $@ $< $(CORE_OBJ) $(SIM_OBJ) -lcmocka -lraft -luv -lz

$(BUILD)/asan/test_cluster_sim: tests/unit/raft/test_cluster_sim.c $(CORE_OBJ:$(BUILD)/%=$(BUILD)/asan/%) $(SIM_OBJ:$(BUILD)/%=$(BUILD)/asan/%) $(HDRS) $(TEST_HDRS)
	$(CC) $(CFLAGS_COMMON) $(TEST_INC) -O1 $(SAN) -o $@ $< $(CORE_OBJ:$(BUILD)/%=$(BUILD)/asan/%) $(SIM_OBJ:$(BUILD)/%=$(BUILD)/asan/%) -lcmocka -lraft -luv -lz

# The identity file and the bus's compatibility rule (pure but for two file functions).
$(BUILD)/test_identity: tests/unit/raft/test_identity.c $(BUILD)/identity.o $(HDRS)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/identity.o -lcmocka

$(BUILD)/asan/test_identity: tests/unit/raft/test_identity.c $(BUILD)/asan/identity.o $(HDRS)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN) -o $@ $< $(BUILD)/asan/identity.o -lcmocka

# Password hashes (scrypt by OpenSSL's libcrypto; hex helpers of peer_proof).
$(BUILD)/test_password: tests/unit/base/test_password.c $(BUILD)/password.o $(BUILD)/peer_proof.o $(HDRS)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/password.o $(BUILD)/peer_proof.o -lcmocka -lcrypto

$(BUILD)/asan/test_password: tests/unit/base/test_password.c $(BUILD)/asan/password.o $(BUILD)/asan/peer_proof.o $(HDRS)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN) -o $@ $< $(BUILD)/asan/password.o $(BUILD)/asan/peer_proof.o -lcmocka -lcrypto

# A node's proof on a forward link (HMAC by OpenSSL's libcrypto).
$(BUILD)/test_peer_proof: tests/unit/base/test_peer_proof.c $(BUILD)/peer_proof.o $(HDRS)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/peer_proof.o -lcmocka -lcrypto

$(BUILD)/asan/test_peer_proof: tests/unit/base/test_peer_proof.c $(BUILD)/asan/peer_proof.o $(HDRS)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN) -o $@ $< $(BUILD)/asan/peer_proof.o -lcmocka -lcrypto

$(BUILD)/test_%: test_%.c $(CORE_OBJ) $(HDRS) $(TEST_HDRS)
	$(CC) $(CFLAGS) $(TEST_INC) -o $@ $< $(CORE_OBJ) -lcmocka

$(BUILD)/asan/test_%: test_%.c $(CORE_OBJ:$(BUILD)/%=$(BUILD)/asan/%) $(HDRS) $(TEST_HDRS)
	$(CC) $(CFLAGS_COMMON) $(TEST_INC) -O1 $(SAN) -o $@ $< $(CORE_OBJ:$(BUILD)/%=$(BUILD)/asan/%) -lcmocka

run: deps $(BUILD)/seqd
	$(BUILD)/seqd --port $(PORT) --bind 127.0.0.1 --dir $(DIR)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

unit-asan: $(UNIT_ASAN)
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t (asan/ubsan)"; $$t; done

integration: $(BUILD)/seqd
	/usr/bin/python3 tests/integration/run.py --binary $(BUILD)/seqd

# The suites that parse hostile input or hold the new shell code (the
# protocol, logins, ACLs, TLS on clients and the bus, the config file,
# backups), against the ASan/UBSan build. Not the ones that restart nodes on
# long logs: under ASan's allocator libraft reloads a log quadratically (a
# 22 MB log took 51 s, 0.35 s without). test_modes and test_crash, whose core
# runs under ASan in unit-asan, and test_metrics, which mostly waits for a
# scraper, run unsanitized only: that keeps make test near 12 minutes here.
integration-asan: $(BUILD)/asan/seqd
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 /usr/bin/python3 tests/integration/run.py \
	  --binary $(BUILD)/asan/seqd test_commands test_protocol test_concurrency test_lifecycle \
	  test_ledger test_auth test_security test_acl test_tls test_bus_tls test_config test_backup \
	  test_documents

# The arrows between the layers of src/ run inward only (scripts/check-layers.sh).
check-layers:
	@bash scripts/check-layers.sh --self-test
	@bash scripts/check-layers.sh src

test: deps
	$(MAKE) check-layers
	$(MAKE) all unit unit-asan
	$(MAKE) fuzz FUZZ_SECONDS=20
	$(MAKE) integration
	$(MAKE) integration-asan
	@echo "make test: all suites passed"

# The Debian package, with Debian's own tooling (debhelper; debian/): the
# .deb lands in build/deb/.
deb: deps
	dpkg-buildpackage -us -uc -b
	mkdir -p $(BUILD)/deb
	mv ../seqd_*_$$(dpkg --print-architecture).deb ../seqd_*.buildinfo ../seqd_*.changes $(BUILD)/deb/
	@ls $(BUILD)/deb/*.deb

bench: $(BUILD)/seqd
	@bash scripts/install-deps.sh --bench
	bash bench/run.sh
	/usr/bin/python3 bench/curves.py --seqd $(BUILD)/seqd

# Issue 14's rows alone: NEXT ... TEXT, a yearly series, the ERP counter row (docs/benchmarks.md)
bench-documents: $(BUILD)/seqd
	@bash scripts/install-deps.sh --bench
	BENCH_ONLY=documents bash bench/run.sh

# CPU per request, user and kernel, server and load generator (docs/performance.md)
bench-budget: $(BUILD)/seqd
	@bash scripts/install-deps.sh --bench
	/usr/bin/python3 bench/budget.py --seqd $(BUILD)/seqd

fuzz:
	@mkdir -p $(BUILD)/fuzz
	clang $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/fuzz_resp tests/fuzz/fuzz_resp.c $(wildcard src/proto/*.c)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_resp -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz/corpus tests/fuzz/corpus_resp
	clang $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/fuzz_format tests/fuzz/fuzz_format.c src/core/doc_format.c src/core/check_digit.c src/core/period.c
	@mkdir -p $(BUILD)/fuzz/corpus_format
	$(BUILD)/fuzz/fuzz_format -max_total_time=$(FUZZ_SECONDS) -max_len=512 $(BUILD)/fuzz/corpus_format
	clang $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined -DSEQ_CHECK_INVARIANTS -o $(BUILD)/fuzz/fuzz_core tests/fuzz/fuzz_core.c $(wildcard src/core/*.c)
	@mkdir -p $(BUILD)/fuzz/corpus_core
	$(BUILD)/fuzz/fuzz_core -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz/corpus_core

# Writes tests/unit/core/golden/entries.bin again (only to add a layout: see
# tests/unit/core/golden/gen_entries.c). The snapshot files come from
# tests/unit/core/golden/make_snapshots.sh run with the seqd of each version.
golden: $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $(BUILD)/gen_entries tests/unit/core/golden/gen_entries.c $(CORE_OBJ)
	$(BUILD)/gen_entries tests/unit/core/golden/entries.bin

clean:
	rm -rf $(BUILD)
