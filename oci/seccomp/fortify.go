package seccomp

// fortify_musl.c supplies glibc's __fprintf_chk, which Debian's
// libseccomp.a calls, to the binaries linked against musl (mk/init.mk).

import "C"
