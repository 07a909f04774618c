package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// These tests drive `berth pull/images/...` against a real registry, each
// with its own --root.

type ib struct {
	t    *testing.T
	root string
	env  []string
}

func newIB(t *testing.T) *ib {
	testutil.RequireRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	b := &ib{t: t, root: root, env: append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "docker"))}
	t.Cleanup(func() {
		// EROFS layer images stay mounted while their snapshots exist.
		m := testutil.MountsUnder(t, root)
		for i := len(m) - 1; i >= 0; i-- {
			unix.Unmount(m[i], unix.MNT_DETACH)
		}
	})
	return b
}

// run runs berth --root ROOT args and returns stdout, stderr and the exit code.
func (b *ib) run(stdin []byte, args ...string) (string, string, int) {
	b.t.Helper()
	return runBerth(b.t, b.env, stdin, append([]string{"--root", b.root}, args...)...)
}

// ok runs a command that must succeed and returns its stdout.
func (b *ib) ok(args ...string) string {
	b.t.Helper()
	out, errs, code := b.run(nil, args...)
	if code != 0 {
		b.t.Fatalf("berth %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// fails runs a command that must exit 125 with a message containing want.
func (b *ib) fails(want string, args ...string) {
	b.t.Helper()
	out, errs, code := b.run(nil, args...)
	if code != 125 || !strings.Contains(errs, want) {
		b.t.Fatalf("berth %v: exit %d, stderr %q (stdout %q); want exit 125 and a message containing %q", args, code, errs, out, want)
	}
}

// count is the number of entries in dir (0 if it does not exist).
func count(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

func (b *ib) blobs() int     { return count(b.t, filepath.Join(b.root, "image/blobs/sha256")) }
func (b *ib) snapshots() int { return count(b.t, filepath.Join(b.root, "snapshots/erofs/snapshots")) }

// testImage pushes a busybox image with extra layers to reg/repo and
// returns it.
func testImage(t *testing.T, reg, repo string, layers int, seed string) v1.Image {
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: layers, Seed: seed})
	testutil.PushImage(t, reg+"/"+repo, img)
	return img
}

func digests(t *testing.T, img v1.Image) (manifest, config string, layers, diffIDs []string) {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		ld, _ := l.Digest()
		di, _ := l.DiffID()
		layers, diffIDs = append(layers, ld.String()), append(diffIDs, di.String())
	}
	return d.String(), c.String(), layers, diffIDs
}

func TestImagePullListInspectHistory(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	img := testImage(t, reg, "test/bb:1", 2, "pull")
	mdig, cdig, layers, diffIDs := digests(t, img)
	ref := reg + "/test/bb:1"

	out := b.ok("pull", ref)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "1: Pulling from test/bb" {
		t.Errorf("first line %q, want %q", lines[0], "1: Pulling from test/bb")
	}
	for _, l := range layers {
		id := strings.TrimPrefix(l, "sha256:")[:12]
		for _, st := range []string{"Download complete", "Pull complete"} {
			if !strings.Contains(out, id+": "+st+"\n") {
				t.Errorf("pull output has no line %q:\n%s", id+": "+st, out)
			}
		}
	}
	tail := []string{"Digest: " + mdig, "Status: Downloaded newer image for " + ref, ref}
	if got := lines[len(lines)-3:]; strings.Join(got, "\n") != strings.Join(tail, "\n") {
		t.Errorf("pull output ends with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tail, "\n"))
	}
	if n := b.snapshots(); n != len(layers) {
		t.Errorf("%d snapshots after the pull, want one per layer (%d)", n, len(layers))
	}
	// Again: nothing to download.
	out = b.ok("pull", ref)
	if !strings.Contains(out, "Status: Image is up to date for "+ref) {
		t.Errorf("second pull:\n%s\nwant \"Image is up to date\"", out)
	}
	if out := b.ok("pull", "-q", ref); out != ref+"\n" {
		t.Errorf("pull -q printed %q, want %q", out, ref+"\n")
	}

	// images
	id := strings.TrimPrefix(cdig, "sha256:")[:12]
	out = b.ok("images")
	want := regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n` +
		regexp.QuoteMeta(reg+"/test/bb") + `\s+1\s+` + id + `\s+\S.* ago\s+[0-9.]+[kM]B\n$`)
	if !want.MatchString(out) {
		t.Errorf("images:\n%s\nwant to match %s", out, want)
	}
	if out := b.ok("image", "ls", "-q"); out != id+"\n" {
		t.Errorf("image ls -q = %q, want %q", out, id+"\n")
	}
	if out := b.ok("images", "--digests", "--no-trunc", "--format", "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}"); out != reg+"/test/bb 1 "+mdig+" "+cdig+"\n" {
		t.Errorf("images --format: %q", out)
	}
	if out := b.ok("images", "--format", "table {{.Tag}}\t{{.ID}}"); !regexp.MustCompile(`^TAG\s+IMAGE ID\n1\s+` + id + `\n$`).MatchString(out) {
		t.Errorf("images --format table: %q", out)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(b.ok("images", "--format", "{{json .}}")), &row); err != nil || row["Tag"] != "1" {
		t.Errorf("images --format '{{json .}}': %v %v", row, err)
	}
	for filter, n := range map[string]int{
		"reference=*/test/bb": 1, "reference=*/test/bb:1": 1, "reference=nothing*": 0,
		"dangling=true": 0, "dangling=false": 1, "label=nope": 0, "before=" + ref: 0, "since=" + ref: 0,
	} {
		if got := len(strings.Fields(b.ok("images", "-q", "--filter", filter))); got != n {
			t.Errorf("images --filter %s: %d images, want %d", filter, got, n)
		}
	}
	b.fails(`invalid filter "color"`, "images", "--filter", "color=red")

	// inspect
	var objs []struct {
		Id, Architecture, Os, Created string
		RepoTags, RepoDigests         []string
		Size                          int64
		Config                        struct{ Cmd, Env []string }
		RootFS                        struct {
			Type   string
			Layers []string
		}
	}
	if err := json.Unmarshal([]byte(b.ok("image", "inspect", ref)), &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("inspect: %d objects", len(objs))
	}
	o := objs[0]
	if o.Id != cdig || o.Architecture != "amd64" || o.Os != "linux" || o.Created != "2026-01-01T00:00:00Z" ||
		strings.Join(o.RepoTags, ",") != ref || strings.Join(o.RepoDigests, ",") != reg+"/test/bb@"+mdig ||
		strings.Join(o.Config.Cmd, " ") != "/bin/sh" || o.RootFS.Type != "layers" ||
		strings.Join(o.RootFS.Layers, ",") != strings.Join(diffIDs, ",") || o.Size <= 0 {
		t.Errorf("inspect: %+v", o)
	}
	if out := b.ok("image", "inspect", "--format", "{{.Id}} {{json .Config.Cmd}}", id); out != cdig+" [\"/bin/sh\"]\n" {
		t.Errorf("inspect --format by ID: %q", out)
	}

	// history: one row per layer (the test images have empty history entries)
	out = b.ok("history", ref)
	hl := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$`).MatchString(hl[0]) || len(hl) != 1+len(layers) ||
		!strings.HasPrefix(hl[1], id) || !strings.HasPrefix(hl[2], "<missing>") {
		t.Errorf("history:\n%s", out)
	}
	if out := b.ok("history", "-q", "--no-trunc", ref); !strings.HasPrefix(out, cdig+"\n") {
		t.Errorf("history -q --no-trunc: %q", out)
	}
}

func TestImageTagPushPullBack(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	img := testImage(t, reg, "test/src:1", 1, "push")
	_, cdig, _, _ := digests(t, img)
	src, dst := reg+"/test/src:1", reg+"/other/copy:2"
	b.ok("pull", "-q", src)
	b.ok("tag", src, dst)
	out := b.ok("push", dst)
	if !strings.HasPrefix(out, "The push refers to repository ["+reg+"/other/copy]\n") || !strings.Contains(out, "2: digest: sha256:") {
		t.Errorf("push output:\n%s", out)
	}
	// Both names point at one image: an ID needs -f to remove them both.
	id := strings.TrimPrefix(cdig, "sha256:")[:12]
	b.fails("must be forced", "rmi", id)
	out = b.ok("rmi", "-f", id)
	if !strings.Contains(out, "Untagged: "+src+"\n") || !strings.Contains(out, "Untagged: "+dst+"\n") || !strings.Contains(out, "Deleted: "+cdig+"\n") {
		t.Errorf("rmi -f ID:\n%s", out)
	}
	if n := b.blobs(); n != 0 {
		t.Errorf("%d blobs left after rmi of the only image", n)
	}
	b.ok("pull", "-q", dst)
	if out := b.ok("image", "inspect", "--format", "{{.Id}}", dst); out != cdig+"\n" {
		t.Errorf("pulled back %s: id %q, want %s", dst, out, cdig)
	}
	// Tag errors.
	b.fails("No such image: nosuch:1", "tag", "nosuch:1", "x:1")
	b.fails(`invalid reference "Bad:Ref"`, "tag", dst, "Bad:Ref")
	b.fails("An image does not exist locally with the tag: "+reg+"/nosuch/img:1", "push", reg+"/nosuch/img:1")
}

func TestImageSaveLoad(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	img := testImage(t, reg, "test/save:1", 2, "save")
	_, cdig, _, _ := digests(t, img)
	ref := reg + "/test/save:1"
	b.ok("pull", "-q", ref)
	dir := t.TempDir()

	// OCI layout export (of the image as pulled: OCI media types), read by
	// skopeo, and imported back below.
	layoutDir := filepath.Join(dir, "layout")
	b.ok("image", "export", ref, layoutDir)
	if out, err := exec.Command("skopeo", "inspect", "oci:"+layoutDir+":1").CombinedOutput(); err != nil {
		idx, _ := os.ReadFile(filepath.Join(layoutDir, "index.json"))
		t.Errorf("skopeo inspect oci:%s:1: %v\n%s\nindex.json: %s", layoutDir, err, out, idx)
	}

	// docker-archive, read back by skopeo (interop) and by berth.
	tarPath := filepath.Join(dir, "img.tar")
	b.ok("save", "-o", tarPath, ref)
	if out, err := exec.Command("skopeo", "copy", "-q", "docker-archive:"+tarPath, "oci:"+filepath.Join(dir, "skopeo")+":x").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy docker-archive: of berth's save output: %v\n%s", err, out)
	}
	b.ok("rmi", ref)
	if n := b.blobs() + b.snapshots(); n != 0 {
		t.Fatalf("%d blobs+snapshots left after rmi", n)
	}
	if out := b.ok("load", "-i", tarPath); out != "Loaded image: "+ref+"\n" {
		t.Errorf("load: %q", out)
	}
	if out := b.ok("image", "inspect", "--format", "{{.Id}}", ref); out != cdig+"\n" {
		t.Errorf("loaded image id %q, want %s", out, cdig)
	}
	if b.snapshots() != 3 {
		t.Errorf("load did not unpack: %d snapshots", b.snapshots())
	}

	// oci-archive, through stdin.
	ociPath := filepath.Join(dir, "img.oci.tar")
	b.ok("save", "--format", "oci-archive", "-o", ociPath, ref)
	b.ok("rmi", ref)
	data, err := os.ReadFile(ociPath)
	if err != nil {
		t.Fatal(err)
	}
	if out, errs, code := b.run(data, "load"); code != 0 || out != "Loaded image: "+ref+"\n" {
		t.Errorf("load < oci-archive: exit %d %q %s", code, out, errs)
	}

	b.ok("rmi", ref)
	if out := b.ok("image", "import", layoutDir); out != "Imported image: "+ref+"\n" {
		t.Errorf("image import: %q", out)
	}
	// skopeo's layout has only a tag: the repository comes from the argument.
	if out := b.ok("image", "import", filepath.Join(dir, "skopeo"), "example.com/from/skopeo"); out != "Imported image: example.com/from/skopeo:x\n" {
		t.Errorf("image import of skopeo's layout: %q", out)
	}
	// skopeo rewrites the config when it converts docker-archive to OCI:
	// compare the layers.
	layersOf := func(name string) string {
		return b.ok("image", "inspect", "--format", "{{json .RootFS.Layers}}", name)
	}
	if got, want := layersOf("example.com/from/skopeo:x"), layersOf(ref); got != want {
		t.Errorf("skopeo round trip layers %s, want %s", got, want)
	}

	// Failures leave nothing behind.
	b.fails("No such image: nosuch", "save", "-o", filepath.Join(dir, "bad.tar"), "nosuch")
	if _, err := os.Stat(filepath.Join(dir, "bad.tar")); !os.IsNotExist(err) {
		t.Errorf("failed save left %s", filepath.Join(dir, "bad.tar"))
	}
	junk := filepath.Join(dir, "junk.tar")
	os.WriteFile(junk, []byte("not a tar at all"), 0o644)
	b.fails(junk, "load", "-i", junk)
	b.fails("not an OCI layout", "image", "import", dir)
}

func TestImageRmiPrune(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	// Two images sharing the busybox layer (same seed, different extra layers).
	a := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "rmi"})
	c := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 2, Seed: "rmi"})
	testutil.PushImage(t, reg+"/test/a:1", a)
	testutil.PushImage(t, reg+"/test/c:1", c)
	b.ok("pull", "-q", reg+"/test/a:1")
	out := b.ok("pull", reg+"/test/c:1")
	if !strings.Contains(out, ": Already exists\n") {
		t.Errorf("second pull shows no shared layer:\n%s", out)
	}
	// a: manifest+config+2 layers; c: manifest+config+1 more layer (layer0 differs? no: same seed)
	blobsBoth, snapsBoth := b.blobs(), b.snapshots()
	if snapsBoth != 3 {
		t.Errorf("%d snapshots for images of 2 and 3 layers sharing 2, want 3", snapsBoth)
	}
	b.ok("rmi", reg+"/test/c:1")
	if got := b.snapshots(); got != 2 {
		t.Errorf("%d snapshots after rmi of c, want 2 (a's)", got)
	}
	if got := b.blobs(); got != blobsBoth-3 {
		t.Errorf("%d blobs after rmi of c, want %d (its manifest, config and own layer gone)", got, blobsBoth-3)
	}
	if out := b.ok("image", "inspect", "--format", "{{len .RootFS.Layers}}", reg+"/test/a:1"); out != "2\n" {
		t.Errorf("a damaged by rmi of c: %q", out)
	}
	// prune has nothing to do; prune -a removes the last image.
	if out := b.ok("image", "prune", "-f"); !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Errorf("prune:\n%s", out)
	}
	out = b.ok("image", "prune", "-a", "-f")
	if !strings.Contains(out, "untagged: "+reg+"/test/a:1") || b.blobs() != 0 || b.snapshots() != 0 {
		t.Errorf("prune -a left %d blobs, %d snapshots:\n%s", b.blobs(), b.snapshots(), out)
	}
	if m := testutil.MountsUnder(t, b.root); len(m) != 0 {
		t.Errorf("mounts left after prune -a: %v", m)
	}
}

func TestImageErrors(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	b.fails(`invalid reference "Bad:Ref"`, "pull", "Bad:Ref")
	b.fails("No such image: nosuch:latest", "rmi", "nosuch:latest")
	b.fails("No such image: nosuch", "image", "inspect", "nosuch")
	b.fails("No such image: nosuch", "history", "nosuch")
	b.fails("127.0.0.1:1", "pull", "127.0.0.1:1/test/x:1")
	b.fails(reg+"/test/missing", "pull", reg+"/test/missing:1")
	b.fails(`--snapshotter "zfs"`, "--snapshotter", "zfs", "pull", reg+"/test/missing:1")
	b.fails(`"pull" requires exactly 1 argument`, "pull")
	// Nothing was created by the failures.
	if out := b.ok("images", "-q"); out != "" || b.blobs() != 0 {
		t.Errorf("failed commands left images %q / %d blobs", out, b.blobs())
	}
	b.fails("logout from "+reg+": not logged in", "logout", reg)
}

func TestImageLogin(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistryAuth(t, "alice", "s3cret")
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: "login"})
	r, _ := name.ParseReference(reg + "/test/img:1")
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	ref := reg + "/test/img:1"
	b.fails("UNAUTHORIZED", "pull", ref)
	if out, errs, code := b.run([]byte("wrong\n"), "login", "-u", "alice", "--password-stdin", reg); code != 125 || !strings.Contains(errs, "unauthorized") {
		t.Fatalf("login with a wrong password: exit %d %q %q", code, out, errs)
	}
	if out, errs, code := b.run([]byte("s3cret\n"), "login", "-u", "alice", "--password-stdin", reg); code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login: exit %d %q %q", code, out, errs)
	}
	b.ok("pull", "-q", ref)
	b.ok("tag", ref, reg+"/test/pushed:2")
	b.ok("push", "-q", reg+"/test/pushed:2")
	if out := b.ok("logout", reg); out != "Removing login credentials for "+reg+"\n" {
		t.Errorf("logout: %q", out)
	}
	b.fails("not logged in", "logout", reg)
	b.ok("rmi", ref, reg+"/test/pushed:2")
	b.fails("UNAUTHORIZED", "pull", reg+"/test/pushed:2")
}

func TestImagePlatformAndStdout(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	idx := testutil.Index(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "multi"},
		v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	idig := testutil.PushIndex(t, reg+"/test/multi:1", idx)
	ref := reg + "/test/multi:1"

	out := b.ok("pull", "--platform", "linux/arm64", ref)
	if !strings.Contains(out, "Digest: "+idig.String()+"\n") {
		t.Errorf("pull of an index: the digest shown is not the index's %s:\n%s", idig, out)
	}
	// Only arm64 is in the store: the image is still listed and inspected.
	if out := b.ok("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}", ref); out != "linux/arm64/v8\n" {
		t.Errorf("inspect of an arm64-only pull: %q", out)
	}
	if out := b.ok("images", "--format", "{{.Platform}}"); out != "linux/arm64/v8\n" {
		t.Errorf("images --format {{.Platform}}: %q", out)
	}
	b.fails(`--platform`, "pull", "--platform", "linux", ref)

	// save to stdout (not a terminal here) is a docker-archive.
	tarOut, errs, code := b.run(nil, "save", ref)
	if code != 0 {
		t.Fatalf("save to stdout: exit %d: %s", code, errs)
	}
	names, err := tarNames(strings.NewReader(tarOut))
	if err != nil || !names["manifest.json"] {
		t.Errorf("save to stdout: not a docker-archive (%v): %v", err, names)
	}
	b.ok("rmi", ref)
	if n := b.blobs() + b.snapshots(); n != 0 {
		t.Errorf("%d blobs+snapshots left after rmi", n)
	}
}

func tarNames(r io.Reader) (map[string]bool, error) {
	tr := tar.NewReader(r)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		names[h.Name] = true
	}
}

// On a terminal the layer lines are redrawn in place (cursor up, erase
// line) instead of appended. script(1) gives berth a pseudo-terminal.
func TestImagePullTTY(t *testing.T) {
	b := newIB(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (bsdutils) not installed")
	}
	reg := testutil.StartRegistry(t)
	img := testImage(t, reg, "test/tty:1", 2, "tty")
	_, _, layers, _ := digests(t, img)
	ref := reg + "/test/tty:1"
	c := exec.Command(script, "-qec", berthBin+" --root "+b.root+" pull "+ref, "/dev/null")
	c.Env = b.env
	out, err := c.Output()
	if err != nil {
		t.Fatalf("pull on a pty: %v\n%q", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "\x1b[3A\x1b[2K\r") {
		t.Errorf("no redraw of the 3 layer lines (CSI 3 A, CSI 2 K) in %q", s)
	}
	for _, l := range layers {
		id := strings.TrimPrefix(l, "sha256:")[:12]
		if !strings.Contains(s, "\x1b[2K\r"+id+": Pull complete") {
			t.Errorf("layer %s never drawn as complete in %q", id, s)
		}
	}
	if !strings.Contains(s, "Status: Downloaded newer image for "+ref) {
		t.Errorf("no status line in %q", s)
	}
}

// A layer that does not match its diff_id fails the unpack: the pull then
// leaves no image, no blob and no snapshot.
func TestImagePullBadLayerRollsBack(t *testing.T) {
	b := newIB(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "bad"})
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	bogus := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	cf.RootFS.DiffIDs[1] = bogus
	bad, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	testutil.PushImage(t, reg+"/test/bad:1", bad)
	b.fails(bogus.String(), "pull", reg+"/test/bad:1")
	if out := b.ok("images", "-q"); out != "" {
		t.Errorf("images after a failed pull: %q", out)
	}
	if n, s := b.blobs(), b.snapshots(); n != 0 || s != 0 {
		t.Errorf("failed pull left %d blobs, %d snapshots", n, s)
	}
}
