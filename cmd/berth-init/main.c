// berth-init is the runtime's init and exec stage on its own: the same C
// code (oci/initproc/stage.c, nsenter.c) that runs from a constructor of
// the Go binaries, linked statically against musl. The runtime execs it
// (through the same sealed overlay view as itself, CVE-2019-5736) when it
// sits beside the runtime's binary: a 100 kB program without glibc's
// start-up (dozens of CPUID instructions, each a VM exit here) or a 6 MB
// image to map is ready for its plan ~0.3 ms sooner. Built by `make build`
// (mk/init.mk); with no musl-gcc the runtime re-execs itself as before.
extern void berth_nsenter(void);
extern void berth_init_stage(void);

int main(void) {
	// Both return at once unless the runtime set their environment; the
	// init stage never returns when it did.
	berth_nsenter();
	berth_init_stage();
	return 127;
}
