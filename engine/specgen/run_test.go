package specgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/internal/testutil"
)

// runtimeBin is bin/berth-runc, built once by TestMain.
var runtimeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "specgen-runc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "berth-runc")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/berth-dev/berth/cmd/berth-runc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=mod", "GOEXPERIMENT=jsonv2")
	if out, err := cmd.CombinedOutput(); err != nil {
		// Spec tests still run; the container tests skip.
		fmt.Fprintf(os.Stderr, "build berth-runc: %v\n%s", err, out)
	} else {
		runtimeBin = bin
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runSpec runs the spec's process in a real container with berth-runc and
// returns its output.
func runSpec(t *testing.T, s *specs.Spec) string {
	t.Helper()
	if runtimeBin == "" {
		t.Skip("berth-runc did not build")
	}
	state := t.TempDir()
	bundle := t.TempDir()
	id := fmt.Sprintf("specgen-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano()%1e6)
	s.Linux.CgroupsPath = "/" + id
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command(runtimeBin, "--root", state, "delete", "-f", id).Run() })
	var out, stderr bytes.Buffer
	cmd := exec.Command(runtimeBin, "--root", state, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth-runc run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	return out.String()
}

// field returns the value after "key" on the line that starts with it.
func field(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return "<missing " + key + ">"
}

const probe = `grep -E '^(CapEff|CapBnd|CapPrm|CapInh|Seccomp|NoNewPrivs):' /proc/self/status
if e=$(unshare -U true 2>&1); then echo "unshare: ok"; else echo "unshare: $e"; fi
echo "pwd: $(pwd)"
echo "hostname: $(hostname)"
echo "home: $HOME"
echo "id: $(id -u):$(id -g):$(id -G)"
echo "sys: $(grep ' /sys sysfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)"
echo "keys: $(stat -c %F /proc/keys 2>&1)"
echo "shm: $(grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9a-z]*')"
echo "ping: $(cat /proc/sys/net/ipv4/ping_group_range)"
echo "domain: $(cat /proc/sys/kernel/domainname)"
`

func busybox(t *testing.T) string {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	return testutil.BusyboxRootfs(t, dir)
}

// A default container behaves like Docker's: its capabilities, seccomp
// filter, masks, mounts and sysctls.
func TestRunDefaultsLikeDocker(t *testing.T) {
	root := busybox(t)
	s := generate(t, &Options{Rootfs: root, Hostname: "specgen", Domainname: "example.org", WorkingDir: "/work/dir", Cmd: []string{"sh", "-c", probe}})
	out := runSpec(t, s)
	// Docker's 14 capabilities are 0xa80425fb; no inheritable ones.
	for k, want := range map[string]string{
		"CapEff:": "00000000a80425fb", "CapBnd:": "00000000a80425fb", "CapPrm:": "00000000a80425fb", "CapInh:": "0000000000000000",
		"Seccomp:": "2", "NoNewPrivs:": "0",
		"pwd:": "/work/dir", "hostname:": "specgen", "home:": "/root", "id:": "0:0:0",
		"sys:": "ro", "keys:": "character special file", "shm:": "size=65536k", "ping:": "0	2147483647",
		"domain:": "example.org",
	} {
		if got := field(out, k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	// The default profile denies unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN.
	if got := field(out, "unshare:"); !strings.Contains(got, "Operation not permitted") {
		t.Errorf("unshare -U under the default profile: %q, want EPERM", got)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// Without the filter the same call works: it is the profile, not the
// capabilities, that blocks it.
func TestRunUnconfinedAndPrivileged(t *testing.T) {
	root := busybox(t)
	s := generate(t, &Options{Rootfs: root, Seccomp: "unconfined", NoNewPrivileges: true, User: "nobody", Cmd: []string{"sh", "-c", probe}})
	out := runSpec(t, s)
	for k, want := range map[string]string{"unshare:": "ok", "Seccomp:": "0", "NoNewPrivs:": "1", "CapEff:": "0000000000000000", "id:": "65534:65534:65534", "home:": "/nonexistent"} {
		if got := field(out, k); got != want {
			t.Errorf("unconfined nobody: %s %q, want %q", k, got, want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	s = generate(t, &Options{Rootfs: root, Privileged: true, ShmSize: 1 << 20, Cmd: []string{"sh", "-c", probe}})
	out = runSpec(t, s)
	self, _ := os.ReadFile("/proc/self/status")
	hostEff := field(string(self), "CapEff:")
	for k, want := range map[string]string{"CapEff:": hostEff, "Seccomp:": "0", "unshare:": "ok", "sys:": "rw", "shm:": "size=1024k"} {
		if got := field(out, k); got != want {
			t.Errorf("privileged: %s %q, want %q", k, got, want)
		}
	}
	if field(out, "keys:") != "regular empty file" {
		t.Errorf("privileged: /proc/keys masked")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// --cap-drop ALL --cap-add NET_BIND_SERVICE and --read-only, for real.
func TestRunCapsAndReadOnly(t *testing.T) {
	root := busybox(t)
	s := generate(t, &Options{Rootfs: root, ReadOnly: true, CapDrop: []string{"ALL"}, CapAdd: []string{"net_bind_service"},
		Cmd: []string{"sh", "-c", probe + `if touch /newfile 2>/dev/null; then echo "rootfs: rw"; else echo "rootfs: ro"; fi
if touch /dev/shm/x; then echo "devshm: rw"; fi`}})
	out := runSpec(t, s)
	for k, want := range map[string]string{"CapEff:": "0000000000000400", "rootfs:": "ro", "devshm:": "rw"} {
		if got := field(out, k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// --init: the init binary is pid 1 and runs the command.
func TestRunInit(t *testing.T) {
	init, err := FindInit()
	if err != nil {
		t.Skip(err)
	}
	root := busybox(t)
	s := generate(t, &Options{Rootfs: root, Init: init, Cmd: []string{"sh", "-c", `echo "pid1: $(cat /proc/1/cmdline | tr '\0' ' ')"; echo "me: $$"`}})
	out := runSpec(t, s)
	if got := field(out, "pid1:"); !strings.HasPrefix(got, "/sbin/docker-init -- sh -c") {
		t.Errorf("pid 1 is %q, want the init", got)
	}
	if got := field(out, "me:"); got == "1" || strings.HasPrefix(got, "<missing") {
		t.Errorf("the command runs as pid %q", got)
	}
}
