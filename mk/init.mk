# mk/init.mk - bin/berth-init: the runtime's init/exec stage (oci/initproc's
# C code) as a static musl program, exec'd instead of the runtime's own
# binary when it sits beside it (see cmd/berth-init/main.c). Built with
# `make build` when musl-gcc is installed (scripts/setup.sh installs
# musl-tools); without it the runtime re-execs itself, as before.
# musl ships no Linux uapi headers: the glibc multiarch ones are added after
# musl's own (linux/, asm/, asm-generic/ only).

MUSL_CC    ?= $(shell command -v musl-gcc 2>/dev/null)
INIT_SRCS  := cmd/berth-init/main.c oci/initproc/stage.c oci/initproc/nsenter.c oci/initproc/stage.h
KHDR       := $(BIN)/.khdr

.PHONY: berth-init
berth-init: $(if $(MUSL_CC),$(BIN)/berth-init)

$(BIN)/berth-init: $(INIT_SRCS)
	@mkdir -p $(KHDR)
	@ln -sfn /usr/include/linux $(KHDR)/linux
	@ln -sfn /usr/include/asm-generic $(KHDR)/asm-generic
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(KHDR)/asm
	$(MUSL_CC) -static -O2 -Wall -Werror -idirafter $(KHDR) -Ioci/initproc \
		-o $@.tmp cmd/berth-init/main.c oci/initproc/stage.c oci/initproc/nsenter.c
	mv $@.tmp $@
