package oci

import (
	"os"
	"path/filepath"
	"testing"
)

// The stand-alone init stage (bin/berth-init, cmd/berth-init: the same C
// code linked against musl) runs the plans the runtime's own binary runs:
// the core tests again, exec'd from it. The other tests use the test
// binary's own constructor (no berth-init beside it).
func TestStandaloneInitStage(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "bin", InitBinary))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not built (make build, with musl-gcc from musl-tools)", bin)
	}
	t.Setenv("BERTH_INIT", bin)
	if got := stageBinary("/proc/self/exe"); got != bin {
		t.Fatalf("stage binary %s, want %s", got, bin)
	}
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"RunExitCodes", TestRunExitCodes},
		{"Lifecycle", TestLifecycle},
		{"ProcessAttributes", TestProcessAttributes},
		{"BadInputLeavesNothing", TestBadInputLeavesNothing},
		{"Exec", TestExec},
		{"ConsoleSocket", TestConsoleSocket},
		{"HooksOrderAndState", TestHooksOrderAndState},
		{"SeccompBlocksSyscall", TestSeccompBlocksSyscall},
		{"UserNamespace", TestUserNamespace},
		{"JoinNamespaceByPath", TestJoinNamespaceByPath},
		{"RuntimeBinaryCannotBeOverwritten", TestRuntimeBinaryCannotBeOverwritten},
		{"NoHostFDOrCwdLeak", TestNoHostFDOrCwdLeak},
		{"MountTargetsStayInRoot", TestMountTargetsStayInRoot},
		{"MaskedPathSymlinkIgnored", TestMaskedPathSymlinkIgnored},
		{"RunRelaysSignals", TestRunRelaysSignals},
		{"InitJoinsEveryCgroup", TestInitJoinsEveryCgroup},
	} {
		t.Run(c.name, c.f)
	}
}

// A stage binary anyone could write is not used: the runtime falls back to
// its own binary.
func TestStageBinaryMustBeSafe(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, InitBinary)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_INIT", p)
	if got := stageBinary("/self"); got != p {
		t.Fatalf("safe candidate refused: %s", got)
	}
	for _, mode := range []os.FileMode{0o775, 0o757, 0o644} {
		os.Chmod(p, mode)
		if got := stageBinary("/self"); got != "/self" {
			t.Errorf("mode %o: stage binary %s, want the runtime's own", mode, got)
		}
	}
	os.Chmod(p, 0o755)
	if err := os.Chown(p, 12345, 0); err == nil {
		if got := stageBinary("/self"); got != "/self" {
			t.Errorf("owned by another user: stage binary %s", got)
		}
	}
	// a directory others may write, sticky (like /tmp) or not
	os.Chmod(p, 0o755)
	os.Chown(p, 0, 0)
	for _, mode := range []os.FileMode{0o777, 0o777 | os.ModeSticky} {
		os.Chmod(dir, mode)
		if got := stageBinary("/self"); got != "/self" {
			t.Errorf("in a %v directory: stage binary %s", mode, got)
		}
	}
	os.Chmod(dir, 0o755)
	// a symlink (how packages install helpers): the file it names
	link := filepath.Join(t.TempDir(), InitBinary)
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_INIT", link)
	if got := stageBinary("/self"); got != p {
		t.Errorf("through a symlink: stage binary %s, want %s", got, p)
	}
	t.Setenv("BERTH_INIT", "self")
	if got := stageBinary("/self"); got != "/self" {
		t.Errorf("BERTH_INIT=self: %s", got)
	}
}
