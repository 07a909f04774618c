package cgroups

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// openViaApply runs the helper, moves it into m with Apply (v1), then lets
// it open the devices.
func openViaApply(t *testing.T, m Manager, devs string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BERTH_CGTEST_OPEN="+devs, "BERTH_CGTEST_WAIT=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	in.Write([]byte{'\n'})
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v: %s", err, out.String())
	}
	res := map[string]string{}
	for _, kv := range strings.Fields(out.String()) {
		k, v, _ := strings.Cut(kv, "=")
		res[k] = v
	}
	return res
}

// TestDeviceFilterMatchesV1 applies the same rule lists to the kernel's
// v1 devices controller and to our BPF program on cgroup2, and checks that
// real opens get the same answers from both, but for the two documented
// places where v1 is odd:
//   - v1 cannot punch a hole in a wildcard: after "allow c 1:* rw", a
//     "deny c 1:3 w" only removes an exception for exactly c 1:3, so it does
//     nothing; our filter takes the last matching rule and denies;
//   - v1 wants one rule to cover every requested bit, so with "allow c *:*
//     r" and "allow c 1:3 w" an O_RDWR open fails though two opens (r, then
//     w) succeed; our filter decides each bit on its own.
func TestDeviceFilterMatchesV1(t *testing.T) {
	requireV1(t)
	if _, ok := mustNew(t, Config{ID: testID(t)}).(*manager).ctrl["devices"]; !ok {
		t.Skip("no v1 devices controller mounted")
	}
	root := v2Root(t)
	probes := "/dev/null,/dev/null:w,/dev/null:rw,/dev/zero,/dev/zero:w,/dev/zero:rw,/dev/full,/dev/full:w,/dev/random,/dev/random:rw"
	denyAll := dev(false, "a", -1, -1, "rwm")
	sets := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		ours  map[string]string // where we differ from v1, on purpose
	}{
		{"major-with-holes", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, -1, "rw"), dev(false, "c", 1, 3, "w"), dev(false, "c", 1, 7, "rwm")},
			map[string]string{"/dev/null:w": "EPERM", "/dev/null:rw": "EPERM", "/dev/full": "EPERM", "/dev/full:w": "EPERM"}},
		{"allow-all-but-one", []specs.LinuxDeviceCgroup{denyAll, dev(true, "a", -1, -1, "rwm"), dev(false, "c", 1, 5, "r")}, nil},
		{"read-everything", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", -1, -1, "r"), dev(true, "c", 1, 3, "w")},
			map[string]string{"/dev/null:rw": "ok"}},
		{"split-access", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "w"), dev(true, "c", 1, 5, "w")}, nil},
		{"later-allow-wins", []specs.LinuxDeviceCgroup{denyAll, dev(false, "c", 1, 8, "rwm"), dev(true, "c", 1, 8, "rwm"), dev(true, "c", 1, 9, "r")}, nil},
	}
	for _, tc := range sets {
		t.Run(tc.name, func(t *testing.T) {
			v1 := mustNew(t, Config{ID: testID(t)})
			if err := v1.Create(&specs.LinuxResources{Devices: tc.rules}); err != nil {
				t.Fatalf("v1 Create: %v", err)
			}
			v2 := mustNew(t, Config{ID: testID(t), Root: root})
			if err := v2.Create(&specs.LinuxResources{Devices: tc.rules}); err != nil {
				t.Fatalf("v2 Create: %v", err)
			}
			want := openViaApply(t, v1, probes)
			got := openInCgroup(t, v2, probes)
			for _, p := range strings.Split(probes, ",") {
				w := want[p]
				if o, ok := tc.ours[p]; ok {
					if w == o {
						t.Errorf("open %s: v1 now agrees with us (%s): drop the exception", p, w)
					}
					w = o
				}
				if w == "" || got[p] != w {
					t.Errorf("open %s: BPF filter says %q, want %q (v1 says %q)", p, got[p], w, want[p])
				}
			}
		})
	}
}
