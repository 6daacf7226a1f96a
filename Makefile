# Entry points for make users; the scripts do the work (see README.md).

.PHONY: all demo check sanitize

all: demo

demo:
	./scripts/demo.sh

# Everything CI runs.
check:
	./scripts/check.sh

# The sp-mem qtests under ASan + UBSan (build-asan/).
sanitize:
	./scripts/sanitize.sh
