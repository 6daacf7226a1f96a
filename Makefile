# Entry points for make users; the scripts do the work (see README.md).

.PHONY: all demo check sanitize fuzz bench bench-quick

all: demo

demo:
	./scripts/demo.sh

# Everything CI runs.
check:
	./scripts/check.sh

# The sp-mem qtests under ASan + UBSan (build-asan/).
sanitize:
	./scripts/sanitize.sh

# The configuration fuzzer's long run (check runs a short fixed set).
FUZZ_COUNT ?= 2000
FUZZ_SEED ?= 0x53504d45
fuzz:
	./scripts/fuzz.sh $(FUZZ_COUNT) $(FUZZ_SEED)

# Benchmarks against pc-dimm (docs/performance.md); not tests.
bench:
	./bench/run.sh

bench-quick:
	./bench/run.sh --quick
