package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/unpack"
)

func TestPrepareCopyRules(t *testing.T) {
	file := func(p string) CopyInfo { return CopyInfo{Path: p, Exists: true} }
	dir := func(p string) CopyInfo { return CopyInfo{Path: p, Exists: true, IsDir: true} }
	missing := func(p string) CopyInfo { return CopyInfo{Path: p} }
	for _, tc := range []struct {
		src, dst     CopyInfo
		dstDir, name string
		err          error
		what         string
	}{
		{file("/s/f"), missing("/d/new"), "/d", "new", nil, "file to a new name"},
		{file("/s/f"), missing("/d/new/"), "", "", ErrDirNotExists, "file to a missing dir"},
		{file("/s/f"), missing("/d/new/."), "", "", ErrDirNotExists, "file to a missing dir/."},
		{file("/s/f"), file("/d/g"), "/d", "g", nil, "file over a file"},
		{file("/s/f"), dir("/d"), "/d", "f", nil, "file into a dir"},
		{dir("/s/d"), missing("/d/new"), "/d", "new", nil, "dir to a new name"},
		{dir("/s/d"), missing("/d/new/"), "/d", "new", nil, "dir to a new name/"},
		{dir("/s/d"), file("/d/g"), "", "", ErrCannotCopyDir, "dir over a file"},
		{dir("/s/d"), dir("/d"), "/d", "d", nil, "dir into a dir"},
		{dir("/s/d/."), dir("/d"), "/d", ".", nil, "dir content into a dir"},
		{dir("/s/d/"), dir("/d"), "/d", "d", nil, "dir/ into a dir"},
		{dir("/"), dir("/d"), "/d", ".", nil, "root into a dir"},
	} {
		dstDir, name, err := PrepareCopy(tc.src, tc.dst)
		if !errors.Is(err, tc.err) || dstDir != tc.dstDir || name != tc.name {
			t.Errorf("%s: got (%q, %q, %v), want (%q, %q, %v)", tc.what, dstDir, name, err, tc.dstDir, tc.name, tc.err)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	for _, tc := range []struct{ in, dir, base string }{
		{"/a/b", "/a", "b"}, {"/a/b/", "/a", "b"}, {"/a/b/.", "/a/b", "."}, {"/", "/", "/"}, {"a", ".", "a"},
	} {
		if d, b := SplitPathDirEntry(tc.in); d != tc.dir || b != tc.base {
			t.Errorf("SplitPathDirEntry(%q) = %q, %q", tc.in, d, b)
		}
	}
	for _, tc := range []struct{ cleaned, orig, want string }{
		{"/a/b", "a/b/", "/a/b/"}, {"/a/b", "a/b/.", "/a/b/."}, {"/", "/.", "/."}, {"/a", "a", "/a"},
	} {
		if got := PreserveTrailingDotOrSeparator(tc.cleaned, tc.orig); got != tc.want {
			t.Errorf("PreserveTrailingDotOrSeparator(%q, %q) = %q", tc.cleaned, tc.orig, got)
		}
	}
	if !AssertsDirectory("/a/") || !AssertsDirectory("/a/.") || AssertsDirectory("/a") {
		t.Error("AssertsDirectory")
	}
}

// tree builds a directory from a tar (symlinks pointing anywhere).
func tree(t *testing.T, entries ...testutil.TarEntry) string {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(testutil.Tar(t, entries...)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
		default:
			b, _ := io.ReadAll(tr)
			os.WriteFile(p, b, os.FileMode(h.Mode))
		}
	}
}

func rootFd(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestResolveInRoot: symlinks resolve as if the tree were "/", also the
// ones that name host paths or climb with "..".
func TestResolveInRoot(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o644)
	dir := tree(t,
		testutil.Dir("etc", 0o755), testutil.File("etc/passwd", "container", 0o644),
		testutil.Symlink("abs", host), testutil.Symlink("climb", "../../../../.."+host),
		testutil.Symlink("toetc", "/etc"), testutil.Symlink("rel", "etc/passwd"),
		testutil.Symlink("loop", "loop"))
	root := rootFd(t, dir)
	for _, tc := range []struct{ in, want string }{
		{"/toetc/passwd", "/etc/passwd"}, {"/rel", "/etc/passwd"}, {"/abs/secret", host + "/secret"},
		{"/climb/secret", host + "/secret"}, {"/etc/../../../x", "/x"}, {"/missing/a/b", "/missing/a/b"},
	} {
		got, err := resolveIn(root, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("resolveIn(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := resolveIn(root, "/loop/x"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("symlink loop: %v", err)
	}
	for _, p := range []string{"/abs/secret", "/climb/secret"} {
		if _, _, err := statIn(root, p); !errors.Is(err, unix.ENOENT) {
			t.Errorf("statIn(%q) reached the host: %v", p, err)
		}
	}
	ps, fd, err := statIn(root, "/toetc")
	if err != nil || ps.Mode&os.ModeSymlink == 0 || ps.LinkTarget != "/etc" || ps.Name != "toetc" {
		t.Fatalf("stat of a symlink: %+v %v", ps, err)
	}
	unix.Close(fd)
	// a trailing "/" follows it
	if ps, fd, err = statIn(root, "/toetc/"); err != nil || !ps.Mode.IsDir() {
		t.Fatalf("stat of a symlink/: %+v %v", ps, err)
	}
	unix.Close(fd)
	if _, _, err := statIn(root, "/etc/passwd/"); !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("file/: %v", err)
	}
}

// TestTarRoundTrip: WriteTar then Untar keeps content, links, modes and
// (with CopyUIDGID) owners; without it entries belong to root.
func TestTarRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d/sub"), 0o750)
	os.WriteFile(filepath.Join(src, "d/f"), []byte("file"), 0o755)
	os.Link(filepath.Join(src, "d/f"), filepath.Join(src, "d/sub/hard"))
	os.Symlink("../f", filepath.Join(src, "d/sub/sym"))
	unix.Mkfifo(filepath.Join(src, "d/fifo"), 0o600)
	os.Lchown(filepath.Join(src, "d/f"), 1000, 1001)
	os.Lchown(filepath.Join(src, "d/sub/sym"), 1002, 1003)
	os.Chmod(filepath.Join(src, "d/f"), 0o755|os.ModeSetuid) // after chown, which clears it
	fd := rootFd(t, filepath.Join(src, "d"))
	var buf bytes.Buffer
	if err := WriteTar(&buf, fd, "copy"); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		dst := t.TempDir()
		// gzip on the way in: extraction takes compressed archives
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(buf.Bytes())
		zw.Close()
		if err := Untar(context.Background(), dst, "", &gz, ExtractOptions{CopyUIDGID: keep}); err != nil {
			t.Fatal(err)
		}
		var st, hst unix.Stat_t
		unix.Stat(filepath.Join(dst, "copy/f"), &st)
		unix.Stat(filepath.Join(dst, "copy/sub/hard"), &hst)
		if st.Ino != hst.Ino || st.Mode&0o7777 != 0o4755 {
			t.Fatalf("hardlink/mode lost: ino %d %d mode %o", st.Ino, hst.Ino, st.Mode&0o7777)
		}
		wantUID := uint32(0)
		if keep {
			wantUID = 1000
		}
		if st.Uid != wantUID {
			t.Fatalf("CopyUIDGID=%v: owner %d", keep, st.Uid)
		}
		if l, _ := os.Readlink(filepath.Join(dst, "copy/sub/sym")); l != "../f" {
			t.Fatalf("symlink: %q", l)
		}
		if fi, err := os.Lstat(filepath.Join(dst, "copy/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("fifo: %v %v", fi, err)
		}
	}
}

// TestUntarStaysInside: entries that climb, hardlinks out, and entries
// through a symlink pointing out land inside the root or fail.
func TestUntarStaysInside(t *testing.T) {
	testutil.RequireRoot(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "victim"), []byte("safe"), 0o644)
	root := tree(t, testutil.Dir("dst", 0o755), testutil.Symlink("dst/out", host))
	for _, tc := range []struct {
		what string
		tar  []byte
	}{
		{"climbing name", testutil.Tar(t, testutil.File("../../../../.."+host+"/victim", "evil", 0o644))},
		{"hardlink out", testutil.Tar(t, testutil.Hardlink("h", "../../../../.."+host+"/victim"))},
	} {
		if err := Untar(context.Background(), root, "/dst", bytes.NewReader(tc.tar), ExtractOptions{}); err == nil {
			t.Errorf("%s: extracted", tc.what)
		}
	}
	// through the symlink: lands at <root><host>/victim
	os.MkdirAll(filepath.Join(root, host), 0o755)
	tb := testutil.Tar(t, testutil.File("out/victim", "evil", 0o644))
	if err := Untar(context.Background(), root, "/dst", bytes.NewReader(tb), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "victim")); string(b) != "safe" {
		t.Fatalf("host file written: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, host, "victim")); string(b) != "evil" {
		t.Fatalf("write through the link did not land in the root: %q", b)
	}
	// a directory is not replaced by a file, nor the other way round
	os.Mkdir(filepath.Join(root, "dst/adir"), 0o755)
	os.WriteFile(filepath.Join(root, "dst/afile"), nil, 0o644)
	for _, tb := range [][]byte{
		testutil.Tar(t, testutil.File("adir", "x", 0o644)),
		testutil.Tar(t, testutil.Dir("afile", 0o755)),
	} {
		if err := Untar(context.Background(), root, "/dst", bytes.NewReader(tb), ExtractOptions{}); err == nil || !strings.Contains(err.Error(), "cannot overwrite") {
			t.Errorf("dir/non-dir replacement: %v", err)
		}
	}
	if err := Untar(context.Background(), root, "/dst", bytes.NewReader(testutil.Tar(t, testutil.File("adir", "x", 0o644))), ExtractOptions{AllowOverwriteDirWithFile: true}); err != nil {
		t.Errorf("AllowOverwriteDirWithFile: %v", err)
	}
}

// ---- engine integration: a stopped container on the native snapshotter ----

type fsEnv struct {
	e     *Engine
	s     *store.Store
	info  ImageInfo
	root  string
	runrt string
}

// newFSEnv makes an engine with one image (a small tree) in a store,
// unpacked into the native snapshotter.
func newFSEnv(t *testing.T) *fsEnv {
	testutil.RequireRoot(t)
	root := t.TempDir()
	rr, err := os.MkdirTemp("/tmp", "bfe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m := testutil.MountsUnder(t, rr); len(m) > 0 {
			t.Errorf("mounts left: %v", m)
		}
		os.RemoveAll(rr)
	})
	e, err := New(Options{Root: root, RunRoot: rr, Exe: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.New(filepath.Join(root, "image"))
	if err != nil {
		t.Fatal(err)
	}
	lt := testutil.Tar(t, testutil.Dir("etc", 0o755), testutil.File("etc/keep", "keep\n", 0o644),
		testutil.File("etc/gone", "gone\n", 0o644), testutil.Dir("bin", 0o755), testutil.File("bin/tool", "#!x\n", 0o755))
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(lt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/tool"}
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desc, err := s.WriteImage(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutImage(ctx, store.Image{Name: "docker.io/library/fsbase:latest", Target: desc}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Manifest(ctx, desc, nil)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := e.OpenSnapshotter("native")
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var layers []unpack.Layer
	for i, ld := range m.Layers {
		d := ld.Digest
		layers = append(layers, unpack.Layer{DiffID: m.Image.RootFS.DiffIDs[i], Open: func() (io.ReadCloser, error) { return s.Open(d) }})
	}
	top, err := unpack.Unpack(ctx, sn, layers, unpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := ImageInfo{Name: "docker.io/library/fsbase:latest", ID: m.Config.Digest.String(), Config: m.Image.Config, Snapshotter: "native", Parent: top}
	return &fsEnv{e: e, s: s, info: info, root: root, runrt: rr}
}

func (f *fsEnv) create(t *testing.T, name string, mounts ...MountRequest) *Container {
	t.Helper()
	c, err := f.e.Create(context.Background(), CreateOptions{Name: name, Image: f.info, Mounts: mounts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fsEnv) read(t *testing.T, ref, p string) (string, error) {
	t.Helper()
	var body string
	err := f.e.ArchivePath(context.Background(), ref, p, nil, func(_ *PathStat, r io.Reader) error {
		tr := tar.NewReader(r)
		if _, err := tr.Next(); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		body = string(b)
		return err
	})
	return body, err
}

func TestStoppedContainerFS(t *testing.T) {
	f := newFSEnv(t)
	ctx := context.Background()
	hostDir := t.TempDir()
	roDir := t.TempDir()
	c := f.create(t, "fsc", MountRequest{Type: "bind", Source: hostDir, Target: "/data"},
		MountRequest{Type: "bind", Source: roDir, Target: "/ro", ReadOnly: true})

	if body, err := f.read(t, "fsc", "/etc/keep"); err != nil || body != "keep\n" {
		t.Fatalf("read image file: %q %v", body, err)
	}
	tb := testutil.Tar(t, testutil.File("new", "n\n", 0o644), testutil.File("../../../../x", "evil", 0o644))
	if err := f.e.ExtractToDir(ctx, "fsc", "/etc", bytes.NewReader(tb), ExtractOptions{}); err == nil {
		t.Fatal("a climbing entry was extracted")
	}
	tb = testutil.Tar(t, testutil.File("new", "n\n", 0o644))
	if err := f.e.ExtractToDir(ctx, "fsc", "/etc", bytes.NewReader(tb), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if body, err := f.read(t, c.ID[:10], "/etc/new"); err != nil || body != "n\n" {
		t.Fatalf("read back: %q %v", body, err)
	}
	// Under a bind, the copy lands in the bind's source.
	if err := f.e.ExtractToDir(ctx, "fsc", "/data", bytes.NewReader(tb), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(hostDir, "new")); string(b) != "n\n" {
		t.Fatalf("copy into a bind: %q", b)
	}
	if err := f.e.ExtractToDir(ctx, "fsc", "/ro", bytes.NewReader(tb), ExtractOptions{}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("copy into a read-only bind: %v", err)
	}
	if err := f.e.ExtractToDir(ctx, "fsc", "/etc/keep", bytes.NewReader(tb), ExtractOptions{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("extract into a file: %v", err)
	}
	if _, err := f.e.StatPath(ctx, "fsc", "/nope"); !errors.Is(err, ErrPathNotFound) {
		t.Fatalf("stat of a missing path: %v", err)
	}
	if _, err := f.e.StatPath(ctx, "nosuch", "/"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat in a missing container: %v", err)
	}
	// Export: the snapshot, without the binds' content.
	var buf bytes.Buffer
	if err := f.e.Export(ctx, "fsc", &buf); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	if !names["etc/new"] || !names["bin/tool"] || names["data/new"] {
		t.Fatalf("export: %v", names)
	}
	// Nothing stays mounted on the host.
	if m := testutil.MountsUnder(t, f.root); len(m) > 0 {
		t.Fatalf("mounts left: %v", m)
	}
}
