# mk/runtime.mk - OCI conformance and benchmark targets for `berth runtime`.
# Included by the top-level Makefile, which defines `build` (./bin/berth and
# the lean runtime binary ./bin/berth-runc). Both targets need root.
#
#   make conformance                       runtime-tools v0.9.0 suite against ./bin/berth-runc
#   RUNTIME=/usr/sbin/runc make conformance   ... against any runc-compatible runtime
#       knobs: MIN_PASS=N (fail below N passed programs; default 0), TIMEOUT=60,
#              TESTS="default pidfile", LOG_DIR, RESULTS=file, LENIENT=1, HIDE_CG2
#   make bench-runtime                     berth vs runc vs crun, N=100 `run` of /bin/true
#       knobs: N=100, MODE=run|split, BERTH=path (or BERTH= to leave it out),
#              RUNC=path, CRUN=path, HIDE_CG2=1, KEEP=1
# Variables may come from the environment or the make command line; the
# scripts read them (see their headers). `build` is a prerequisite only when
# the berth binary is what gets measured (RUNTIME / BERTH not given), so that
# runc can be checked while berth does not build.

BERTH_RUNTIME_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: conformance bench-runtime

conformance: $(if $(filter undefined,$(origin RUNTIME)),build)
	bash $(BERTH_RUNTIME_MK_DIR)/../scripts/conformance.sh

bench-runtime: $(if $(filter undefined,$(origin BERTH)),build)
	bash $(BERTH_RUNTIME_MK_DIR)/../scripts/bench-runtime.sh
