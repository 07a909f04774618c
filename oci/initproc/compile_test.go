package initproc

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/seccomp"
)

func testConfig() *Config {
	return &Config{
		Mode: ModeInit, ID: "c1", Bundle: "/b", Rootfs: "/b/rootfs",
		Spec: &specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "rootfs"}, Hostname: "h",
			Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
			Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}},
				MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"}}},
		Process:     &specs.Process{Args: []string{"sh"}, Env: []string{"PATH=/bin"}, Cwd: "/"},
		SetHostname: true,
	}
}

func index(codes []int, op int) int { return slices.Index(codes, op) }

func TestCompileOrder(t *testing.T) {
	cfg := testConfig()
	cfg.RuntimeHooks = true
	p, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := p.codes()
	// mounts happen before pivot_root; masking after it; ready before exec, exec last
	// the executable is looked up as the user, in the cwd (runc does too)
	order := []int{opMount, opOpen, opResolve, opSync, opPivot, opHostname, opReadonly, opMask, opCloexecFrom, opSetUser, opCapSet, opChdir, opLookPath, opReady, opExec}
	last := -1
	for _, op := range order {
		i := index(c[last+1:], op)
		if i < 0 {
			t.Fatalf("op %d missing or out of order in %v", op, c)
		}
		last += 1 + i
	}
	if c[len(c)-1] != opExec {
		t.Fatalf("plan does not end in exec: %v", c)
	}
	if b := p.Encode(); !strings.HasPrefix(string(b), planMagic) {
		t.Fatalf("encoding starts %q", b[:8])
	}
	// without prestart/createRuntime hooks init does not wait for the runtime
	cfg.RuntimeHooks = false
	if p, _ = Compile(cfg); index(p.codes(), opSync) >= 0 {
		t.Fatalf("sync without runtime hooks: %v", p.codes())
	}
}

// Without no_new_privs the filter is loaded while init still has
// CAP_SYS_ADMIN, before the user switch; with it, last (after ready).
func TestCompileSeccompPlacement(t *testing.T) {
	prog := &seccomp.Program{Filter: []unix.SockFilter{{Code: 6, K: 0x7fff0000}}}
	for _, nnp := range []bool{false, true} {
		cfg := testConfig()
		cfg.Process.NoNewPrivileges = nnp
		cfg.Seccomp = prog
		p, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := p.codes()
		sc, user, ready := index(c, opSeccomp), index(c, opSetUser), index(c, opReady)
		if nnp && !(sc > ready) || !nnp && !(sc < user) {
			t.Errorf("nnp=%v: seccomp at %d, setuser %d, ready %d", nnp, sc, user, ready)
		}
		if n := strings.Count(string(p.Encode()), "\x06\x00\x00\x00\x00\x00\xff\x7f"); n != 1 {
			t.Errorf("nnp=%v: filter encoded %d times", nnp, n)
		}
	}
	// a listener must reach the runtime during create: before ready
	cfg := testConfig()
	cfg.Process.NoNewPrivileges = true
	cfg.Seccomp = &seccomp.Program{Filter: prog.Filter, Notify: true}
	p, _ := Compile(cfg)
	if c := p.codes(); index(c, opSeccomp) > index(c, opReady) {
		t.Errorf("notify filter loaded after ready: %v", c)
	}
}

func TestCompileExecMode(t *testing.T) {
	cfg := testConfig()
	cfg.Mode = ModeExec
	cfg.Process.Terminal = true
	p, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := p.codes()
	for _, op := range []int{opMount, opPivot, opSync, opHostname} {
		if index(c, op) >= 0 {
			t.Errorf("exec plan has op %d: %v", op, c)
		}
	}
	if index(c, opConsole) != 0 || c[len(c)-2] != opReady {
		t.Errorf("exec plan %v", c)
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"propagation", func(c *Config) { c.Spec.Linux.RootfsPropagation = "sideways" }, `linux.rootfsPropagation "sideways"`},
		{"sysctl", func(c *Config) { c.Spec.Linux.Sysctl = map[string]string{"": "1"} }, `linux.sysctl "": invalid key`},
		{"rlimit", func(c *Config) { c.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}} }, `process.rlimits: unknown type "RLIMIT_NOPE"`},
		{"ioprio", func(c *Config) {
			c.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}, "process.ioPriority.priority 9"},
		{"hookTimeout", func(c *Config) {
			z := 0
			c.Spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/h", Timeout: &z}}}
		}, "createContainer hook #0 (/h): timeout must be positive"},
		{"bindSource", func(c *Config) {
			c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent-src", Options: []string{"bind"}})
		}, "mounts[1] (bind on /x): source:"},
		{"idmap", func(c *Config) {
			c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/", Options: []string{"bind", "idmap"}})
		}, "idmapped mounts are not supported"},
		{"noArgs", func(c *Config) { c.Process.Args = nil }, "process.args is empty"},
		{"caps", func(c *Config) { c.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_NOPE"}} }, "process.capabilities.bounding"},
		{"personality", func(c *Config) { c.Spec.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} }, `linux.personality.domain "LINUX64"`},
		// C would read "/dev\x00x" as /dev, which Go did not see as a /dev bind
		{"nulDest", func(c *Config) {
			c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/dev\x00x", Type: "tmpfs", Source: "tmpfs"})
		}, `mounts[1] (tmpfs on /dev\x00x): create mount point: "/dev\x00x" contains a NUL byte`},
		{"nulArg", func(c *Config) { c.Process.Args = []string{"sh", "-c\x00x"} }, "contains a NUL byte"},
	}
	for _, tc := range cases {
		cfg := testConfig()
		tc.mutate(cfg)
		if _, err := Compile(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestStageErrorWording(t *testing.T) {
	p := &Plan{}
	p.add(opLookPath, `exec: "nosuch"`, nil, "nosuch", "/bin")
	p.add(opMount, "mounts[2] (tmpfs on /x)", ints(0, 1, 0), "", "", "tmpfs", "")
	err := p.Err(Msg{Type: MsgError, Op: 0, Code: errNotInPath})
	if err.Error() != `exec: "nosuch": executable file not found in $PATH` || !IsNotFound(err) {
		t.Errorf("not in path: %v", err)
	}
	err = p.Err(Msg{Type: MsgError, Op: 1, Code: int(unix.ELOOP), Error: "reopen"})
	if err.Error() != "mounts[2] (tmpfs on /x): reopen: too many levels of symbolic links" || !errors.Is(err, unix.ELOOP) || IsNotFound(err) {
		t.Errorf("errno: %v", err)
	}
	if err := p.Err(Msg{Type: MsgError, Op: 7, Code: errPlan, Error: "bad string"}); !strings.Contains(err.Error(), "bad plan") {
		t.Errorf("plan error: %v", err)
	}
}
