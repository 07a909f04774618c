package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CVE-2019-5736: a container process that gets hold of the runtime binary
// through /proc/<pid>/exe of a runtime process in the container must not
// be able to write it. The init stage runs from a sealed read-only view of
// the binary, so reopening its exe for writing fails even after it exited.
func TestRuntimeBinaryCannotBeOverwritten(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/true"), "")
	c, err := e.rt.Create("exe", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	// init is our re-exec'd binary, waiting for start: what an attacker in
	// the container would open.
	exe, err := os.OpenFile("/proc/"+strconv.Itoa(c.State.Pid)+"/exe", unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	// the process is gone: ETXTBSY no longer protects the file
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(exe.Fd())), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("the runtime binary could be opened for writing through the init's /proc/PID/exe")
	}
	if !strings.Contains(err.Error(), "read-only") && !strings.Contains(err.Error(), "text file busy") && !strings.Contains(err.Error(), "permission") {
		t.Logf("write open refused: %v", err)
	}
	self, _ := os.Executable()
	st, _ := os.Stat(self)
	if st.Mode()&0o200 == 0 {
		t.Fatal("test binary is not writable: the check proves nothing")
	}
}

// CVE-2024-21626: no fd of the runtime reaches the container, and a cwd
// that names a leaked fd cannot put the process outside its root.
func TestNoHostFDOrCwdLeak(t *testing.T) {
	e := newEnv(t)
	// every fd the container has, with its target
	out := e.mustRun("fds", testSpec("/bin/sh", "-c", "for f in /proc/self/fd/*; do echo $f $(readlink $f); done"))
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		n, _ := strconv.Atoi(filepath.Base(f[0]))
		if n > 3 { // 0-2 stdio, 3 is the shell's own glob dir fd
			t.Errorf("container sees a leaked fd: %s", l)
		}
	}
	for fd := 3; fd < 12; fd++ {
		s := testSpec("/bin/sh", "-c", "pwd; ls .. | head -3")
		s.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(fd)
		e.write(s, "")
		out, code, err := e.run("cwd" + strconv.Itoa(fd))
		if err == nil && code == 0 && !strings.HasPrefix(out, "/") {
			t.Fatalf("cwd via fd %d escaped the root: %q", fd, out)
		}
		if err == nil && code == 0 && strings.Contains(out, "work") {
			t.Fatalf("cwd via fd %d reached a host directory: %q", fd, out)
		}
	}
}

// A mount destination that is (or passes through) a symlink pointing
// outside the rootfs, or that uses "..", lands inside the rootfs.
func TestMountTargetsStayInRoot(t *testing.T) {
	e := newEnv(t)
	hostDir := t.TempDir()
	canary := filepath.Join(hostDir, "canary")
	os.WriteFile(canary, []byte("host"), 0o644)
	rootfs := privateRootfs(t)
	os.Symlink(hostDir, filepath.Join(rootfs, "evil"))                       // absolute, to the host dir
	os.Symlink("../../../../../../"+hostDir, filepath.Join(rootfs, "evil2")) // relative climb
	s := testSpec("/bin/sh", "-c", "ls /evil /evil2 2>&1; cat /proc/self/mountinfo | grep -c tmpfs")
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/evil", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/evil2/sub", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/../../../../dd/../../dotdot", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/evil/bound", Type: "bind", Source: hostDir, Options: []string{"bind", "ro"}},
	)
	before := hostMountsUnder(t, hostDir)
	e.write(s, rootfs)
	out, code, err := e.run("symlinks")
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v out %s", code, err, out)
	}
	if after := hostMountsUnder(t, hostDir); after != before {
		t.Fatalf("mounts appeared under the host dir %s", hostDir)
	}
	if b, _ := os.ReadFile(canary); string(b) != "host" {
		t.Fatal("host canary changed")
	}
	ents, _ := os.ReadDir(hostDir)
	if len(ents) != 1 {
		t.Fatalf("host dir got new entries: %v", ents)
	}
	// the targets were created inside the rootfs instead
	if _, err := os.Stat(filepath.Join(rootfs, "dotdot")); err != nil {
		t.Fatalf("'..' destination not created inside the rootfs: %v", err)
	}
	// a dangling symlink target: a clean error, still nothing on the host
	os.Symlink("/nonexistent-dir/x", filepath.Join(rootfs, "dangling"))
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dangling/y", Type: "tmpfs", Source: "tmpfs"})
	e.write(s, rootfs)
	if _, _, err := e.run("dangling"); err == nil {
		t.Log("dangling symlink target was created inside the rootfs")
	}
	if _, err := os.Stat("/nonexistent-dir"); err == nil {
		t.Fatal("a mount target was created on the host through a dangling symlink")
	}
}

func hostMountsUnder(t *testing.T, dir string) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), " "+dir)
}

// A masked path that is a symlink must not mask (or expose) its target.
func TestMaskedPathSymlinkIgnored(t *testing.T) {
	e := newEnv(t)
	rootfs := privateRootfs(t)
	os.WriteFile(filepath.Join(rootfs, "etc/secret"), []byte("visible\n"), 0o644)
	os.Symlink("/etc/secret", filepath.Join(rootfs, "etc/masklink"))
	os.Symlink("/etc", filepath.Join(rootfs, "etc-link"))
	s := testSpec("/bin/sh", "-c", "cat /etc/secret; cat /etc/masklink; ls /etc-link/secret")
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/masklink", "/etc-link")
	e.write(s, rootfs)
	out, code, err := e.run("mask")
	if err != nil || code != 0 || out != "visible\nvisible\n/etc-link/secret\n" {
		t.Fatalf("code %d err %v out %q", code, err, out)
	}
}

// The init stage resolves mount targets itself, one component at a time:
// a symlink loop is refused by name, and a symlink to a missing absolute
// path is followed inside the rootfs, never on the host.
func TestMountTargetSymlinkLoopAndDangling(t *testing.T) {
	e := newEnv(t)
	rootfs := privateRootfs(t)
	os.Symlink("loop2", filepath.Join(rootfs, "loop1"))
	os.Symlink("/loop1", filepath.Join(rootfs, "loop2"))
	s := testSpec("/bin/true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/loop1/x", Type: "tmpfs", Source: "tmpfs"})
	e.write(s, rootfs)
	n := len(s.Mounts) - 1
	_, err := e.rt.Create("loop", e.quiet())
	want := fmt.Sprintf("mounts[%d] (tmpfs on /loop1/x): create mount point: too many levels of symbolic links", n)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	mustNotExist(t, statePath(e.rt.Root, "loop"))

	hostDir := "/nonexistent-berth-dangling"
	os.Symlink(hostDir+"/deeper", filepath.Join(rootfs, "dangling"))
	s.Mounts[n] = specs.Mount{Destination: "/dangling/y", Type: "tmpfs", Source: "tmpfs"}
	s.Process.Args = []string{"/bin/sh", "-c", "grep -c ' /nonexistent-berth-dangling/deeper/y ' /proc/self/mountinfo"}
	e.write(s, rootfs)
	out, code, err := e.run("dangling")
	if err != nil || code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("dangling: code %d err %v out %q", code, err, out)
	}
	if _, err := os.Stat(hostDir); err == nil {
		t.Fatal("a mount target was created on the host through a dangling symlink")
	}
	if _, err := os.Stat(filepath.Join(rootfs, hostDir, "deeper/y")); err != nil {
		t.Fatalf("target not created inside the rootfs: %v", err)
	}
}
