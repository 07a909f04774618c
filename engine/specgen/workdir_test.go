package specgen

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/testutil"
)

func imageCfg(user string) ocispec.ImageConfig {
	return ocispec.ImageConfig{User: user, Cmd: []string{"sh"}}
}

func owner(t *testing.T, p string) (uint32, uint32, os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode()
}

func TestWorkdirCreatedLikeDocker(t *testing.T) {
	testutil.RequireRoot(t)
	root := testRootfs(t)
	// An existing parent keeps its owner; new components are root's, 0755.
	os.MkdirAll(filepath.Join(root, "srv"), 0o700)
	os.Chown(filepath.Join(root, "srv"), 1000, 1000)
	s := generate(t, &Options{Rootfs: root, User: "alice", Image: ocispec.ImageConfig{WorkingDir: "/srv/app/./data/", Cmd: []string{"sh"}}})
	if s.Process.Cwd != "/srv/app/data" {
		t.Fatalf("cwd %q", s.Process.Cwd)
	}
	for _, p := range []string{"srv/app", "srv/app/data"} {
		uid, gid, mode := owner(t, filepath.Join(root, p))
		if uid != 0 || gid != 0 || !mode.IsDir() || mode.Perm() != 0o755 {
			t.Errorf("%s: %d:%d %v, want root-owned 0755 dir", p, uid, gid, mode)
		}
	}
	if uid, _, mode := owner(t, filepath.Join(root, "srv")); uid != 1000 || mode.Perm() != 0o700 {
		t.Errorf("existing /srv changed: uid %d mode %v", uid, mode)
	}
	// -w overrides the image's.
	s = generate(t, &Options{Rootfs: root, WorkingDir: "/tmp", Image: ocispec.ImageConfig{WorkingDir: "/srv", Cmd: []string{"sh"}}})
	if s.Process.Cwd != "/tmp" {
		t.Fatalf("-w: cwd %q", s.Process.Cwd)
	}
	s = generate(t, &Options{Rootfs: root})
	if s.Process.Cwd != "/" {
		t.Fatalf("default cwd %q", s.Process.Cwd)
	}
}

func TestWorkdirSymlinkStaysInRoot(t *testing.T) {
	testutil.RequireRoot(t)
	outer := t.TempDir()
	root := filepath.Join(outer, "rootfs")
	escape := filepath.Join(outer, "escape")
	os.MkdirAll(root, 0o755)
	// /app -> ../../../<outer>/escape: outside if followed on the host.
	if err := os.Symlink("../../../../../../.."+escape, filepath.Join(root, "app")); err != nil {
		t.Fatal(err)
	}
	// Dangling inside the root: refused, nothing made anywhere.
	if err := EnsureWorkdir(root, "/app/work", 0, 0); err == nil {
		t.Fatal("mkdir through a dangling symlink succeeded")
	}
	if _, err := os.Stat(escape); !os.IsNotExist(err) {
		t.Fatalf("mkdir followed the symlink out of the rootfs: %v", err)
	}
	// With the target present both inside and outside, the inside one is used.
	os.MkdirAll(escape, 0o755)
	os.MkdirAll(filepath.Join(root, escape), 0o755)
	if err := EnsureWorkdir(root, "/app/work", 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(escape, "work")); !os.IsNotExist(err) {
		t.Fatalf("mkdir followed the symlink out of the rootfs: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, escape, "work")); err != nil || !fi.IsDir() {
		t.Fatalf("workdir not created inside the rootfs: %v", err)
	}
}

func TestWorkdirErrors(t *testing.T) {
	root := testRootfs(t)
	write(t, filepath.Join(root, "file"), "x")
	for _, c := range []struct{ dir, want string }{
		{"/file", "not a directory"},
		{"/file/sub", "/file/sub"},
		{"relative/dir", "absolute"},
	} {
		err := EnsureWorkdir(root, c.dir, 0, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EnsureWorkdir(%q): %v, want an error with %q", c.dir, err, c.want)
		}
	}
	wantErr(t, &Options{Rootfs: root, WorkingDir: "rel"}, "rel", "absolute")
	// A rejected option leaves the rootfs untouched.
	wantErr(t, &Options{Rootfs: root, WorkingDir: "/made/by/failure", CapAdd: []string{"CAP_FLY"}}, "CAP_FLY")
	if _, err := os.Stat(filepath.Join(root, "made")); !os.IsNotExist(err) {
		t.Fatalf("failed Generate created the workdir: %v", err)
	}
}
