package mount_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/mount"
)

// 130 lower layers with long paths make a lowerdir option far over a page:
// All must mount it (through fsopen/fsconfig) and show every layer.
func TestOverlayLongLowerdir(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	var lowers []string
	for i := 0; i < 130; i++ {
		d := filepath.Join(tmp, fmt.Sprintf("a-rather-long-layer-directory-name-%03d", i))
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d", i)), []byte(fmt.Sprint(i)), 0o644)
		os.WriteFile(filepath.Join(d, "top"), []byte(fmt.Sprint(i)), 0o644)
		lowers = append([]string{d}, lowers...) // top first
	}
	up, work, target := filepath.Join(tmp, "up"), filepath.Join(tmp, "work"), filepath.Join(tmp, "m")
	for _, d := range []string{up, work, target} {
		os.Mkdir(d, 0o755)
	}
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + up, "workdir=" + work}}
	if l := len(strings.Join(m.Options, ",")); l < os.Getpagesize() {
		t.Fatalf("options only %d bytes: the test needs more than a page", l)
	}
	if err := mount.All([]mount.Mount{m}, target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := mount.UnmountAll(target); err != nil {
			t.Error(err)
		}
		if left := testutil.MountsUnder(t, tmp); len(left) > 0 {
			t.Errorf("left mounted: %v", left)
		}
	}()
	for _, i := range []int{0, 129} {
		if b, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("f%03d", i))); err != nil || string(b) != fmt.Sprint(i) {
			t.Errorf("f%03d = %q, %v", i, b, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(target, "top")); string(b) != "129" {
		t.Errorf("top = %q, want the top layer's", b)
	}
}

func TestBindReadOnly(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	src, target := filepath.Join(tmp, "src"), filepath.Join(tmp, "m")
	os.Mkdir(src, 0o755)
	os.Mkdir(target, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	if err := mount.All([]mount.Mount{{Type: "bind", Source: src, Options: []string{"ro", "rbind"}}}, target); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "x" {
		t.Errorf("read through bind: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil {
		t.Error("read-only bind is writable")
	}
	if err := mount.UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if left := testutil.MountsUnder(t, tmp); len(left) > 0 {
		t.Errorf("left mounted: %v", left)
	}
}

func TestMountErrorsNameTheMount(t *testing.T) {
	testutil.RequireRoot(t)
	target := t.TempDir()
	err := mount.Mount{Type: "erofs", Source: filepath.Join(target, "missing.erofs"), Options: []string{"ro"}}.Mount(target)
	if err == nil || !strings.Contains(err.Error(), "missing.erofs") {
		t.Errorf("err = %v, want one naming the image", err)
	}
}
