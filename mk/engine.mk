# mk/engine.mk - engine benchmark: berth run/create/start/rm and the shim's
# memory against podman (and conmon), interleaved. Included by the Makefile.
#   make bench-engine     knobs: N=50, WHAT="run split shim", RUNTIME_PODMAN=runc|crun, KEEP=1

BERTH_ENGINE_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: bench-engine

bench-engine: build
	bash $(BERTH_ENGINE_MK_DIR)/../scripts/bench-engine.sh
