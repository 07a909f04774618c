package mount

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
)

// The fallback for kernels without "lowerdir+" (before 6.8), exercised
// directly: 130 layers mounted with paths relative to their common parent.
func TestOverlayRelativeFallback(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	base := filepath.Join(tmp, "snapshots")
	var lowers []string
	for i := 0; i < 130; i++ {
		d := filepath.Join(base, fmt.Sprint(i), "fs")
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte(fmt.Sprint(i)), 0o644)
		lowers = append([]string{d}, lowers...)
	}
	up, work := filepath.Join(base, "u", "fs"), filepath.Join(base, "u", "work")
	os.MkdirAll(up, 0o755)
	os.MkdirAll(work, 0o755)
	target := filepath.Join(tmp, "m")
	os.Mkdir(target, 0o755)
	data := []string{"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + up, "workdir=" + work}
	if len(strings.Join(data, ",")) < pageSize {
		t.Fatal("options fit a page: the test needs more")
	}
	wd, _ := os.Getwd()
	if err := mountOverlayRelative("overlay", target, 0, data); err != nil {
		t.Fatal(err)
	}
	defer UnmountAll(target)
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("process working directory moved to %s", now)
	}
	for _, i := range []int{0, 129} {
		if b, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("f%d", i))); err != nil || string(b) != fmt.Sprint(i) {
			t.Errorf("f%d = %q, %v", i, b, err)
		}
	}
	if err := os.WriteFile(filepath.Join(target, "w"), nil, 0o644); err != nil {
		t.Errorf("upper not writable: %v", err)
	}
	if _, err := os.Stat(filepath.Join(up, "w")); err != nil {
		t.Errorf("write did not land in the upper dir: %v", err)
	}
}

func TestCommonDir(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"/a/b/1/fs", "/a/b/2/fs", "/a/b/u/work"}, "/a/b"},
		{[]string{"/a/b/1/fs"}, "/a/b/1"},
		{[]string{"/x/1", "/y/2"}, "/"},
		{[]string{"/a/bc/1", "/a/b/2"}, "/a"},
	} {
		if got := commonDir(c.in); got != c.want {
			t.Errorf("commonDir(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
