# berth — see README.md. All targets run as root on Debian 12.
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export GOFLAGS := -mod=mod
# encoding/json on the v2 engine: half the first-decode cost of a runtime
# spec, paid on every container start (twice: runtime and init stage).
export GOEXPERIMENT := jsonv2
BIN     := bin

.PHONY: all build setup test test-short vet demo clean
all: build

# Static binaries (libseccomp and the libc linked in: musl when installed,
# see mk/init.mk; pure-Go user and DNS lookups): no dynamic loader on each
# of the two starts per container (the runtime and its init stage), -0.4 ms
# each here.
STATIC  := -tags osusergo,netgo -ldflags "-s -w -linkmode external -extldflags=-static"

build: berth-init musl-include
	$(MUSL_GO) CGO_ENABLED=1 $(GO) build -trimpath $(STATIC) -o $(BIN)/berth ./cmd/berth
	$(MUSL_GO) CGO_ENABLED=1 $(GO) build -trimpath $(STATIC) -o $(BIN)/berth-runc ./cmd/berth-runc

setup:
	bash scripts/setup.sh

# The whole suite: unit, root/kernel integration and CLI tests. build runs
# in a make of its own after setup: whether musl-gcc is there (mk/init.mk)
# is decided when a make reads the makefiles, before setup installs it.
test: setup
	$(MAKE) build
	bash scripts/test.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

demo: setup
	$(MAKE) build
	bash scripts/demo.sh

clean:
	rm -rf $(BIN)

-include mk/*.mk
