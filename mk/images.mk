# mk/images.mk - image benchmark targets. Included by the top-level Makefile.
#
#   make bench-pull    cold pull + unpack from a local registry: berth (EROFS
#                      and overlay snapshotters) vs podman, interleaved; prints
#                      seconds and the berth/podman ratio per image
#       knobs: RUNS=3, IMAGES="busybox:latest debian:layers big:latest",
#              SNAPSHOTTERS="erofs overlay", TOP=/tmp/images (corpus, registry,
#              podman and berth stores), PODMAN= to leave podman out
# The first run builds the image corpus with shared/bench/images/
# make-test-images.sh (debootstrap: minutes) and serves it on 127.0.0.1:5000.

BERTH_IMAGES_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: bench-pull

bench-pull: build
	bash $(BERTH_IMAGES_MK_DIR)/../scripts/bench-pull.sh
