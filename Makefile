# Entry points for make users; the scripts do the work (see README.md).
# Every scenario of scenarios/ is a target of its own name (make dt,
# make linux-sp, ...), and so are the tiers (make quick, make check).

SCENARIOS := $(sort $(notdir $(patsubst %/scenario,%,$(wildcard scenarios/*/scenario))))

.PHONY: all demo check quick list sanitize fuzz bench bench-quick $(SCENARIOS)

all: demo

demo:
	./scripts/demo.sh

# Everything CI runs.
check:
	./scripts/check.py

# What needs only QEMU and the unpatched build (a few minutes warm).
quick:
	./scripts/check.py --quick

list:
	./scripts/check.py --list

$(SCENARIOS):
	./scripts/check.py $@

# The sp-mem qtests under ASan + UBSan (build-asan/).
sanitize:
	./tools/sanitize.sh

# The configuration fuzzer's long run (check runs a short fixed set).
FUZZ_COUNT ?= 2000
FUZZ_SEED ?= 0x53504d45
fuzz:
	./tools/fuzz.sh $(FUZZ_COUNT) $(FUZZ_SEED)

# Benchmarks against pc-dimm (docs/performance.md); not tests.
bench:
	./bench/run.sh

bench-quick:
	./bench/run.sh --quick
