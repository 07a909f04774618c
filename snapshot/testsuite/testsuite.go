// Package testsuite is the conformance suite every berth snapshotter runs:
// lifecycle and error classes, read-only views, a 3-layer chain with
// whiteouts and opaque directories checked through the real mounts, a diff
// that round-trips, a 130-layer chain, and usage. Each check gets its own
// root, and fails if a mount it made is left behind.
//
//	func TestSuite(t *testing.T) {
//		testsuite.Run(t, func(ctx context.Context, root string) (snapshot.Snapshotter, error) {
//			return overlay.New(root)
//		})
//	}
package testsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
)

// Factory opens a snapshotter in a fresh root.
type Factory func(ctx context.Context, root string) (snapshot.Snapshotter, error)

// Run runs every check against snapshotters made by newSn. It needs root.
func Run(t *testing.T, newSn Factory) {
	testutil.RequireRoot(t)
	checks := []struct {
		name string
		fn   func(context.Context, *testing.T, snapshot.Snapshotter, string)
	}{
		{"Lifecycle", checkLifecycle},
		{"Errors", checkErrors},
		{"ViewIsReadOnly", checkView},
		{"WhiteoutsAcrossThreeLayers", checkWhiteouts},
		{"DiffRoundTrip", checkDiffRoundTrip},
		{"ManyLayers", checkManyLayers},
		{"Usage", checkUsage},
		{"Concurrent", checkConcurrent},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			scratch = root
			sn, err := newSn(ctx, filepath.Join(root, "sn"))
			if err != nil {
				t.Fatalf("new snapshotter: %v", err)
			}
			defer func() {
				removeAll(ctx, t, sn)
				if u, ok := sn.(interface{ UnmountAll() error }); ok {
					if err := u.UnmountAll(); err != nil {
						t.Errorf("unmount all: %v", err)
					}
				}
				if err := sn.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
				if left := testutil.MountsUnder(t, root); len(left) > 0 {
					t.Errorf("mounts leaked: %v", left)
				}
			}()
			c.fn(ctx, t, sn, root)
		})
	}
}

// removeAll removes every snapshot, children before parents.
func removeAll(ctx context.Context, t *testing.T, sn snapshot.Snapshotter) {
	for round := 0; round < 1000; round++ {
		var keys []string
		sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error { keys = append(keys, i.Name); return nil })
		if len(keys) == 0 {
			return
		}
		progress := false
		for _, k := range keys {
			if sn.Remove(ctx, k) == nil {
				progress = true
			}
		}
		if !progress {
			t.Errorf("cannot remove snapshots %v", keys)
			return
		}
	}
}

// withMount mounts ms on a temporary directory (under the check's root, so
// that leaks are seen) for fn.
func withMount(t *testing.T, ms []mount.Mount, fn func(dir string)) {
	t.Helper()
	dir, err := os.MkdirTemp(scratch, "mnt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	if err := mount.All(ms, dir); err != nil {
		t.Fatalf("mount %+v: %v", ms, err)
	}
	defer func() {
		if err := mount.UnmountAll(dir); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	fn(dir)
}

// scratch is the root of the running check (checks run one at a time).
var scratch string

// commitLayer prepares key on parent, unpacks tar into it and commits it as
// name.
func commitLayer(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, name, parent string, tarball []byte) {
	t.Helper()
	key := "extract-" + name
	if _, err := sn.Prepare(ctx, key, parent); err != nil {
		t.Fatalf("prepare %s: %v", key, err)
	}
	if _, err := layer.Unpack(ctx, sn, key, bytes.NewReader(tarball), layer.Options{Devices: layer.DevicesCreate}); err != nil {
		t.Fatalf("unpack %s: %v", name, err)
	}
	if err := sn.Commit(ctx, name, key); err != nil {
		t.Fatalf("commit %s: %v", name, err)
	}
}

func checkLifecycle(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	ms, err := sn.Prepare(ctx, "a-active", "", snapshot.WithLabels(map[string]string{"l": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "foo"), []byte("foo"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Mkdir(filepath.Join(dir, "d"), 0o755)
		os.WriteFile(filepath.Join(dir, "d/gone"), []byte("x"), 0o644)
	})
	info, err := sn.Stat(ctx, "a-active")
	if err != nil || info.Kind != snapshot.KindActive || info.Labels["l"] != "1" {
		t.Fatalf("stat a-active = %+v, %v; want active with label l=1", info, err)
	}
	if err := sn.Commit(ctx, "a", "a-active"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Stat(ctx, "a-active"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("active key after commit: err = %v, want ErrNotFound", err)
	}
	info, err = sn.Stat(ctx, "a")
	if err != nil || info.Kind != snapshot.KindCommitted || info.Parent != "" {
		t.Fatalf("stat a = %+v, %v; want committed without parent", info, err)
	}

	ms, err = sn.Prepare(ctx, "b-active", "a")
	if err != nil {
		t.Fatal(err)
	}
	ms2, err := sn.Mounts(ctx, "b-active")
	if err != nil || !reflect.DeepEqual(ms, ms2) {
		t.Errorf("Mounts = %+v, %v; want what Prepare returned: %+v", ms2, err, ms)
	}
	withMount(t, ms, func(dir string) {
		if b, err := os.ReadFile(filepath.Join(dir, "foo")); err != nil || string(b) != "foo" {
			t.Errorf("parent file through child: %q, %v", b, err)
		}
		os.WriteFile(filepath.Join(dir, "bar"), []byte("bar"), 0o644)
		if err := os.Remove(filepath.Join(dir, "d/gone")); err != nil {
			t.Error(err)
		}
	})
	if err := sn.Commit(ctx, "b", "b-active"); err != nil {
		t.Fatal(err)
	}
	info, _ = sn.Stat(ctx, "b")
	if info.Parent != "a" {
		t.Errorf("parent of b = %q, want a", info.Parent)
	}
	ms, err = sn.View(ctx, "b-view", "b")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		for f, want := range map[string]string{"foo": "foo", "bar": "bar"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != want {
				t.Errorf("view %s = %q, %v; want %q", f, b, err, want)
			}
		}
		if _, err := os.Lstat(filepath.Join(dir, "d/gone")); !os.IsNotExist(err) {
			t.Errorf("d/gone still visible in b: %v", err)
		}
	})
	// a snapshot that is untouched still has the old content
	ms, err = sn.View(ctx, "a-view", "a")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		if _, err := os.Stat(filepath.Join(dir, "d/gone")); err != nil {
			t.Errorf("a changed by its child: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "bar")); !os.IsNotExist(err) {
			t.Errorf("b's file visible in a: %v", err)
		}
	})
	seen := map[string]snapshot.Kind{}
	if err := sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error { seen[i.Name] = i.Kind; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]snapshot.Kind{"a": snapshot.KindCommitted, "b": snapshot.KindCommitted, "a-view": snapshot.KindView, "b-view": snapshot.KindView}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("walk = %v, want %v", seen, want)
	}
	if err := sn.Remove(ctx, "a"); !errors.Is(err, snapshot.ErrFailedPrecondition) {
		t.Errorf("remove parent with children: err = %v, want ErrFailedPrecondition", err)
	}
	for _, k := range []string{"b-view", "a-view", "b", "a"} {
		if err := sn.Remove(ctx, k); err != nil {
			t.Errorf("remove %s: %v", k, err)
		}
	}
	if _, err := sn.Stat(ctx, "a"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("stat removed: %v", err)
	}
}

func checkErrors(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	if _, err := sn.Prepare(ctx, "", ""); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("empty key: %v, want ErrInvalid", err)
	}
	if _, err := sn.Prepare(ctx, "x", "missing"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("missing parent: %v, want ErrNotFound", err)
	}
	if _, err := sn.Prepare(ctx, "act", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "act", ""); !errors.Is(err, snapshot.ErrAlreadyExists) {
		t.Errorf("duplicate key: %v, want ErrAlreadyExists", err)
	}
	if _, err := sn.Prepare(ctx, "child", "act"); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("active parent: %v, want ErrInvalid", err)
	}
	if _, err := sn.Prepare(ctx, "v-src", ""); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "c", "v-src"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "c", "act"); !errors.Is(err, snapshot.ErrAlreadyExists) {
		t.Errorf("commit to taken name: %v, want ErrAlreadyExists", err)
	}
	if _, err := sn.View(ctx, "view", "c"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "c2", "view"); !errors.Is(err, snapshot.ErrFailedPrecondition) {
		t.Errorf("commit a view: %v, want ErrFailedPrecondition", err)
	}
	if err := sn.Commit(ctx, "c3", "nope"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("commit missing: %v, want ErrNotFound", err)
	}
	if _, err := sn.Mounts(ctx, "nope"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("mounts of missing: %v, want ErrNotFound", err)
	}
	if _, err := sn.Mounts(ctx, "c"); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("mounts of committed: %v, want ErrInvalid", err)
	}
	if err := sn.Remove(ctx, "nope"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("remove missing: %v, want ErrNotFound", err)
	}
	// the active snapshot is still intact after all that
	if info, err := sn.Stat(ctx, "act"); err != nil || info.Kind != snapshot.KindActive {
		t.Errorf("stat act = %+v, %v", info, err)
	}
}

func checkView(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	commitLayer(ctx, t, sn, "base", "", testutil.Tar(t, testutil.File("f", "x", 0o644)))
	commitLayer(ctx, t, sn, "top", "base", testutil.Tar(t, testutil.File("g", "y", 0o644)))
	for _, parent := range []string{"base", "top"} {
		ms, err := sn.View(ctx, "view-"+parent, parent)
		if err != nil {
			t.Fatal(err)
		}
		withMount(t, ms, func(dir string) {
			if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "x" {
				t.Errorf("view of %s: f = %q, %v", parent, b, err)
			}
			if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err == nil {
				t.Errorf("view of %s is writable", parent)
			}
		})
	}
}

// The three layers of checkWhiteouts, and the tree the top must show.
func whiteoutLayers(t *testing.T) [][]byte {
	return [][]byte{
		testutil.Tar(t,
			testutil.Dir("etc/", 0o755), testutil.File("etc/keep", "1", 0o644), testutil.File("etc/del", "1", 0o644),
			testutil.Dir("opq/", 0o755), testutil.File("opq/old1", "1", 0o644), testutil.Dir("opq/olddir/", 0o755),
			testutil.File("opq/olddir/x", "1", 0o644),
			testutil.Dir("tree/", 0o755), testutil.Dir("tree/sub/", 0o755), testutil.File("tree/sub/f", "1", 0o644),
			testutil.File("back", "first", 0o644)),
		testutil.Tar(t,
			testutil.Dir("etc/", 0o755), testutil.Whiteout("etc/del"), testutil.File("etc/new", "2", 0o644),
			testutil.Dir("opq/", 0o700), testutil.Opaque("opq"), testutil.File("opq/new2", "2", 0o644),
			testutil.Whiteout("tree"), testutil.Whiteout("back")),
		testutil.Tar(t,
			testutil.File("back", "third", 0o600), // recreated after a whiteout
			testutil.Dir("tree/", 0o755), testutil.File("tree/only", "3", 0o644),
			testutil.Dir("etc/", 0o755), testutil.Whiteout("etc/new")),
	}
}

func checkWhiteouts(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	parent := ""
	for i, l := range whiteoutLayers(t) {
		name := fmt.Sprintf("l%d", i+1)
		commitLayer(ctx, t, sn, name, parent, l)
		parent = name
	}
	ms, err := sn.Prepare(ctx, "c", parent)
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		want := map[string]string{"back": "third", "etc/keep": "1", "opq/new2": "2", "tree/only": "3"}
		for f, body := range want {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != body {
				t.Errorf("%s = %q, %v; want %q", f, b, err, body)
			}
		}
		for _, f := range []string{"etc/del", "etc/new", "opq/old1", "opq/olddir", "tree/sub"} {
			if _, err := os.Lstat(filepath.Join(dir, f)); !os.IsNotExist(err) {
				t.Errorf("%s should be whited out, lstat: %v", f, err)
			}
		}
		names := func(d string) []string {
			es, _ := os.ReadDir(filepath.Join(dir, d))
			var n []string
			for _, e := range es {
				n = append(n, e.Name())
			}
			return n
		}
		if got := names("opq"); !reflect.DeepEqual(got, []string{"new2"}) {
			t.Errorf("opq lists %v, want [new2]", got)
		}
		if got := names("etc"); !reflect.DeepEqual(got, []string{"keep"}) {
			t.Errorf("etc lists %v, want [keep]", got)
		}
		if st, err := os.Stat(filepath.Join(dir, "opq")); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("opq mode = %v, %v; want 0700 from layer 2", st.Mode(), err)
		}
		if st, err := os.Stat(filepath.Join(dir, "back")); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("back mode = %v, %v; want 0600", st.Mode(), err)
		}
	})
}

func checkDiffRoundTrip(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	commitLayer(ctx, t, sn, "base", "", testutil.Tar(t,
		testutil.Dir("d/", 0o755), testutil.File("d/keep", "k", 0o644), testutil.File("d/change", "old", 0o644),
		testutil.File("d/gone", "g", 0o644), testutil.Dir("d/gonedir/", 0o755), testutil.File("d/gonedir/x", "x", 0o644),
		testutil.Dir("opq/", 0o755), testutil.File("opq/a", "a", 0o644), testutil.Symlink("ln", "d/keep"),
	))
	ms, err := sn.Prepare(ctx, "work", "base")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.WriteFile(filepath.Join(dir, "d/change"), []byte("new content"), 0o644))
		must(os.Remove(filepath.Join(dir, "d/gone")))
		must(os.RemoveAll(filepath.Join(dir, "d/gonedir")))
		must(os.WriteFile(filepath.Join(dir, "added"), []byte("added"), 0o4755))
		must(os.Chmod(filepath.Join(dir, "added"), 0o4755))
		must(os.Link(filepath.Join(dir, "added"), filepath.Join(dir, "added-link")))
		must(os.RemoveAll(filepath.Join(dir, "opq")))
		must(os.Mkdir(filepath.Join(dir, "opq"), 0o750))
		must(os.WriteFile(filepath.Join(dir, "opq/b"), []byte("b"), 0o644))
		must(os.Remove(filepath.Join(dir, "ln")))
		must(os.Symlink("/etc/hostname", filepath.Join(dir, "ln")))
		must(os.Lchown(filepath.Join(dir, "d/keep"), 1000, 1000))
	})
	lower, err := sn.View(ctx, "base-view", "base")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := layer.DiffMounts(ctx, &buf, lower, ms)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if res.Size != int64(buf.Len()) || res.DiffID.Validate() != nil {
		t.Fatalf("diff result %+v for %d bytes", res, buf.Len())
	}
	// Apply the diff on a new snapshot of base: same tree as "work".
	commitLayer(ctx, t, sn, "replayed", "base", buf.Bytes())
	var want, got map[string]string
	withMount(t, ms, func(dir string) { want = testutil.Tree(t, dir) })
	rv, err := sn.View(ctx, "replayed-view", "replayed")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, rv, func(dir string) { got = testutil.Tree(t, dir) })
	delete(want, ".") // the root dir's mtime moves with the first write
	delete(got, ".")
	if d := testutil.DiffTrees(want, got); d != "" {
		t.Errorf("diff did not round-trip (want => got):\n%s", d)
	}
	if _, ok := got["d/gonedir"]; ok {
		t.Error("removed directory came back")
	}
}

func checkManyLayers(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	const n = 130
	parent := ""
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("layer-with-a-long-name-to-stress-the-options-%03d", i)
		commitLayer(ctx, t, sn, name, parent, testutil.Tar(t,
			testutil.File(fmt.Sprintf("f%03d", i), fmt.Sprint(i), 0o644),
			testutil.File("top", fmt.Sprint(i), 0o644)))
		parent = name
	}
	ms, err := sn.Prepare(ctx, "c", parent)
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		for _, i := range []int{0, 1, 64, n - 1} {
			if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d", i))); err != nil || string(b) != fmt.Sprint(i) {
				t.Errorf("file of layer %d = %q, %v", i, b, err)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "top")); string(b) != fmt.Sprint(n-1) {
			t.Errorf("top = %q, want the last layer's", b)
		}
		if err := os.WriteFile(filepath.Join(dir, "w"), []byte("w"), 0o644); err != nil {
			t.Errorf("write into a %d-layer snapshot: %v", n, err)
		}
	})
}

func checkUsage(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	big := string(bytes.Repeat([]byte("u"), 1<<20))
	commitLayer(ctx, t, sn, "base", "", testutil.Tar(t, testutil.File("big", big, 0o644)))
	u, err := sn.Usage(ctx, "base")
	if err != nil {
		t.Fatal(err)
	}
	if u.Size < 1<<20 || u.Inodes < 1 {
		t.Errorf("usage of a 1 MiB layer = %+v", u)
	}
	ms, err := sn.Prepare(ctx, "act", "base")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(dir string) {
		os.WriteFile(filepath.Join(dir, "more"), []byte(big+big), 0o644)
	})
	u2, err := sn.Usage(ctx, "act")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size < 2<<20 {
		t.Errorf("usage of an active snapshot with 2 MiB written = %+v", u2)
	}
	if _, err := sn.Usage(ctx, "nope"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("usage of missing: %v", err)
	}
}

// Snapshots made at the same time from many goroutines all land, and of
// several racing for one key exactly one wins.
func checkConcurrent(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, _ string) {
	commitLayer(ctx, t, sn, "base", "", testutil.Tar(t, testutil.File("f", "x", 0o644)))
	const n = 8
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		go func() {
			key := fmt.Sprintf("c%d", i)
			if _, err := sn.Prepare(ctx, key, "base"); err != nil {
				errs <- err
				return
			}
			errs <- sn.Commit(ctx, fmt.Sprintf("n%d", i), key)
		}()
		go func() {
			_, err := sn.Prepare(ctx, "contended", "base")
			errs <- err
		}()
	}
	won := 0
	for i := 0; i < 2*n; i++ {
		err := <-errs
		switch {
		case err == nil:
		case errors.Is(err, snapshot.ErrAlreadyExists):
			continue
		default:
			t.Errorf("concurrent prepare/commit: %v", err)
			continue
		}
		won++
	}
	if won != n+1 {
		t.Errorf("%d operations succeeded, want %d (all commits and one prepare of the contended key)", won, n+1)
	}
	count := 0
	sn.Walk(ctx, func(context.Context, snapshot.Info) error { count++; return nil })
	if count != n+2 {
		t.Errorf("walk found %d snapshots, want %d", count, n+2)
	}
}
