# mk/engines.mk - real container engines driving berth as their runc.
# Included by the top-level Makefile, which defines `build` (./bin/berth and
# the symlink ./bin/berth-runc -> berth). Needs root and the engines from
# scripts/setup.sh (podman, containerd, docker.io).
#
#   make engines                        podman, containerd (ctr) and dockerd run
#                                       busybox containers with ./bin/berth-runc
#   RUNTIME=/usr/sbin/runc make engines the same checks with runc
#   make engines-compare                runc then berth, and a table of both
#       knobs: ENGINES="podman containerd docker", KEEP=1, VERBOSE=1, TIMEOUT=60
# `build` is a prerequisite only when berth is what runs (RUNTIME not given),
# so that runc can be checked while berth does not build.

BERTH_ENGINES_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: engines engines-compare

engines: $(if $(filter undefined,$(origin RUNTIME)),build)
	bash $(BERTH_ENGINES_MK_DIR)/../scripts/engines.sh

engines-compare: build
	COMPARE=1 bash $(BERTH_ENGINES_MK_DIR)/../scripts/engines.sh
