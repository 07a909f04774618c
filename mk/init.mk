# mk/init.mk - musl builds (scripts/setup.sh installs musl-tools; without
# musl-gcc everything is built against glibc, as before).
#
# bin/berth-init: the runtime's init/exec stage (oci/initproc's C code) as
# a static musl program, exec'd instead of the runtime's own binary when it
# sits beside it (see cmd/berth-init/main.c).
#
# bin/berth and bin/berth-runc are linked against musl too (MUSL_GO, used
# by `build`): a static glibc program spends ~0.3 ms before main on CPU
# feature and cache detection (about 60 CPUID instructions, each a VM exit
# here), on every runtime call; A/B of `run` 6.53 vs 6.96 ms. Go's own user
# and DNS lookups are used (osusergo, netgo); libseccomp.a is Debian's
# (oci/seccomp/fortify_musl.c supplies the glibc symbol it calls).
#
# musl ships no Linux uapi headers: an include directory adds the glibc
# multiarch ones (linux/, asm/, asm-generic/) and libseccomp's after musl's
# own, and lib/ holds Debian's libseccomp.a alone (musl-gcc searches no
# glibc directory); scripts/musl-pkg-config keeps /usr/include out of the
# cgo flags.

MUSL_CC    ?= $(shell command -v musl-gcc 2>/dev/null)
INIT_SRCS  := cmd/berth-init/main.c oci/initproc/stage.c oci/initproc/nsenter.c oci/initproc/stage.h
MUSL_INC   := $(BIN)/.musl-include
MUSL_GO     = $(if $(MUSL_CC),CC=$(MUSL_CC) CGO_CFLAGS="-O2 -idirafter $(abspath $(MUSL_INC))" \
	CGO_LDFLAGS="-L$(abspath $(MUSL_INC))/lib" PKG_CONFIG=$(abspath scripts/musl-pkg-config))

.PHONY: berth-init musl-include
berth-init: $(if $(MUSL_CC),$(BIN)/berth-init)

musl-include: $(if $(MUSL_CC),$(MUSL_INC)/seccomp.h)

$(MUSL_INC)/seccomp.h:
	@mkdir -p $(MUSL_INC)
	@ln -sfn /usr/include/linux $(MUSL_INC)/linux
	@ln -sfn /usr/include/asm-generic $(MUSL_INC)/asm-generic
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(MUSL_INC)/asm
	@ln -sfn /usr/include/seccomp-syscalls.h $(MUSL_INC)/seccomp-syscalls.h
	@mkdir -p $(MUSL_INC)/lib
	@ln -sfn /usr/lib/$$(gcc -print-multiarch)/libseccomp.a $(MUSL_INC)/lib/libseccomp.a
	@ln -sfn /usr/include/seccomp.h $@

$(BIN)/berth-init: $(INIT_SRCS) | musl-include
	$(MUSL_CC) -static -O2 -Wall -Werror -idirafter $(MUSL_INC) -Ioci/initproc \
		-o $@.tmp cmd/berth-init/main.c oci/initproc/stage.c oci/initproc/nsenter.c
	mv $@.tmp $@
