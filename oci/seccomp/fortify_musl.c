// Debian's libseccomp.a is built with _FORTIFY_SOURCE against glibc; the
// release binaries link it against musl (mk/init.mk), which has no checked
// variants: the one it calls is provided here. Nothing with glibc.
#include <stdarg.h>
#include <stdio.h>

#if !defined(__GLIBC__)
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}
#endif
