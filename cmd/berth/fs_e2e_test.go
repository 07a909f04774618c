package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/internal/testutil"
)

// These tests drive `berth cp`, `export` and `commit` of the built binary
// against containers of a busybox image loaded from a docker-archive, each
// test with its own --root and --runroot.

type fb struct {
	t             *testing.T
	root, runroot string
	img           string
}

func newFB(t *testing.T) *fb {
	testutil.RequireRoot(t)
	rr, err := os.MkdirTemp("/tmp", "bf")
	if err != nil {
		t.Fatal(err)
	}
	b := &fb{t: t, root: filepath.Join(t.TempDir(), "root"), runroot: rr, img: "fs/busybox:latest"}
	t.Cleanup(func() {
		removeAll(b.run)
		if m := testutil.MountsUnder(t, rr); len(m) > 0 {
			t.Errorf("mounts left under the runroot: %v", m)
		}
		resetRoots(t, b.run, b.root, rr)
	})
	ref, err := name.ParseReference(b.img)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := tarball.WriteToFile(archive, ref, testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: t.Name()})); err != nil {
		t.Fatal(err)
	}
	b.ok("load", "-q", "-i", archive)
	return b
}

// run runs berth and returns stdout, stderr and the exit code.
func (b *fb) run(stdin []byte, args ...string) (string, string, int) {
	b.t.Helper()
	return runBerth(b.t, nil, stdin, append([]string{"--root", b.root, "--runroot", b.runroot}, args...)...)
}

func (b *fb) ok(args ...string) string {
	b.t.Helper()
	return b.okIn(nil, args...)
}

func (b *fb) okIn(stdin []byte, args ...string) string {
	b.t.Helper()
	out, errs, code := b.run(stdin, args...)
	if code != 0 {
		b.t.Fatalf("berth %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

// fails runs a command that must exit 125 with stderr containing msg.
func (b *fb) fails(msg string, args ...string) {
	b.t.Helper()
	out, errs, code := b.run(nil, args...)
	if code != 125 || !strings.Contains(errs, msg) {
		b.t.Fatalf("berth %v: exit %d stderr %q stdout %q; want exit 125 and stderr containing %q", args, code, errs, out, msg)
	}
}

// sh runs a shell command in a running container and returns its output.
func (b *fb) sh(ctr, script string) string {
	b.t.Helper()
	return b.ok("exec", ctr, "sh", "-c", script)
}

// blobs lists the content store's blobs.
func (b *fb) blobs() []string {
	ents, _ := os.ReadDir(filepath.Join(b.root, "image/blobs/sha256"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// tarEntries lists the entries of a tar: name → body for files, "->target"
// for symlinks, "dir" for directories.
func tarEntries(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			out[h.Name] = "dir"
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		default:
			body, _ := io.ReadAll(tr)
			out[h.Name] = string(body)
		}
	}
}

func TestCpFromContainer(t *testing.T) {
	b := newFB(t)
	c := "cpfrom-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	b.ok("run", "-d", "--name", c, b.img, "sleep", "1000")
	b.sh(c, "mkdir -p /d/sub && echo one > /d/f && echo two > /d/sub/g && ln -s f /d/lnk && echo top > /file")
	out := t.TempDir()

	// a file to a new name, into a directory, over an existing file
	b.ok("cp", c+":/file", filepath.Join(out, "new"))
	if got := readFile(t, filepath.Join(out, "new")); got != "top\n" {
		t.Fatalf("file to new name: %q", got)
	}
	b.ok("cp", c+":/file", out)
	if got := readFile(t, filepath.Join(out, "file")); got != "top\n" {
		t.Fatalf("file into dir: %q", got)
	}
	os.WriteFile(filepath.Join(out, "exists"), []byte("old old old\n"), 0o644)
	b.ok("cp", c+":/d/f", filepath.Join(out, "exists"))
	if got := readFile(t, filepath.Join(out, "exists")); got != "one\n" {
		t.Fatalf("file over file: %q", got)
	}
	// a missing destination asserted to be a directory
	b.fails("must exist", "cp", c+":/file", filepath.Join(out, "nodir")+"/")
	// a directory: new name, into an existing one, its content with /.
	b.ok("cp", c+":/d", filepath.Join(out, "d1"))
	if got := readFile(t, filepath.Join(out, "d1/sub/g")); got != "two\n" {
		t.Fatalf("dir to new name: %q", got)
	}
	if l, err := os.Readlink(filepath.Join(out, "d1/lnk")); err != nil || l != "f" {
		t.Fatalf("symlink copied as %q %v", l, err)
	}
	os.Mkdir(filepath.Join(out, "d2"), 0o755)
	b.ok("cp", c+":/d", filepath.Join(out, "d2"))
	if got := readFile(t, filepath.Join(out, "d2/d/f")); got != "one\n" {
		t.Fatalf("dir into dir: %q", got)
	}
	os.Mkdir(filepath.Join(out, "d3"), 0o755)
	b.ok("cp", c+":/d/.", filepath.Join(out, "d3"))
	if got := readFile(t, filepath.Join(out, "d3/f")); got != "one\n" {
		t.Fatalf("dir content into dir: %q", got)
	}
	b.fails("cannot copy a directory", "cp", c+":/d", filepath.Join(out, "exists"))
	// -L copies the target of a symlink under the link's name
	b.ok("cp", c+":/d/lnk", filepath.Join(out, "asLink"))
	if l, err := os.Readlink(filepath.Join(out, "asLink")); err != nil || l != "f" {
		t.Fatalf("symlink without -L: %q %v", l, err)
	}
	b.ok("cp", "-L", c+":/d/lnk", filepath.Join(out, "followed"))
	if got := readFile(t, filepath.Join(out, "followed")); got != "one\n" {
		t.Fatalf("-L: %q", got)
	}
	// "-": a tar on stdout
	tarOut := b.ok("cp", c+":/d", "-")
	ents := tarEntries(t, []byte(tarOut))
	if ents["d/"] != "dir" || ents["d/f"] != "one\n" || ents["d/sub/g"] != "two\n" || ents["d/lnk"] != "->f" {
		t.Fatalf("tar of /d: %v", ents)
	}
	// errors: missing path, missing container, a file with a trailing /
	b.fails("Could not find the file /nope", "cp", c+":/nope", out)
	b.fails("No such container", "cp", "nosuchctr:/file", out)
	b.fails("not a directory", "cp", c+":/file/", out)
	b.fails("invalid output path", "cp", c+":/file", filepath.Join(out, "no/such/dir/x"))
	b.fails("copying between containers", "cp", c+":/file", c+":/x")
	b.fails("at least one container", "cp", "/etc/hosts", out)
}

func TestCpToContainer(t *testing.T) {
	b := newFB(t)
	c := "cpto-" + strings.ToLower(t.Name())
	b.ok("run", "-d", "--name", c, b.img, "sleep", "1000")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), []byte("alpha\n"), 0o640)
	os.Mkdir(filepath.Join(src, "dir"), 0o750)
	os.WriteFile(filepath.Join(src, "dir", "b"), []byte("beta\n"), 0o600)
	os.Symlink("b", filepath.Join(src, "dir", "lb"))
	os.Chown(filepath.Join(src, "a"), 1234, 2345)
	os.Chown(filepath.Join(src, "dir", "b"), 1234, 2345)
	b.sh(c, "mkdir /dst && echo old > /dst/existing")

	b.ok("cp", filepath.Join(src, "a"), c+":/dst/renamed")
	b.ok("cp", filepath.Join(src, "a"), c+":/dst")
	b.ok("cp", filepath.Join(src, "a"), c+":/dst/existing")
	if got := b.sh(c, "cat /dst/renamed /dst/a /dst/existing; stat -c '%u:%g %a' /dst/a"); got != "alpha\nalpha\nalpha\n0:0 640\n" {
		t.Fatalf("files copied: %q", got)
	}
	// -a keeps the owners
	b.ok("cp", "-a", filepath.Join(src, "dir"), c+":/owned")
	if got := b.sh(c, "stat -c '%u:%g %a' /owned/b; readlink /owned/lb"); got != "1234:2345 600\nb\n" {
		t.Fatalf("-a: %q", got)
	}
	b.ok("cp", filepath.Join(src, "dir"), c+":/dst")
	b.ok("cp", filepath.Join(src, "dir")+"/.", c+":/dst")
	if got := b.sh(c, "cat /dst/dir/b /dst/b; stat -c '%u:%g' /dst/dir/b"); got != "beta\nbeta\n0:0\n" {
		t.Fatalf("dirs copied: %q", got)
	}
	// a local symlink: copied as a link, or its target with -L
	os.Symlink("a", filepath.Join(src, "la"))
	b.ok("cp", filepath.Join(src, "la"), c+":/dst/la")
	b.ok("cp", "-L", filepath.Join(src, "la"), c+":/dst/lf")
	if got := b.sh(c, "readlink /dst/la; cat /dst/lf"); got != "a\nalpha\n" {
		t.Fatalf("local symlink: %q", got)
	}
	b.fails("must exist", "cp", filepath.Join(src, "a"), c+":/nodir/")
	b.fails("cannot copy a directory", "cp", filepath.Join(src, "dir"), c+":/dst/existing")
	b.fails("Could not find the file", "cp", filepath.Join(src, "a"), c+":/no/such/x")
	b.fails("no such file", "cp", filepath.Join(src, "missing"), c+":/dst")
	// "-": a tar on stdin, into a directory only
	tarball := testutil.Tar(t, testutil.File("fromtar", "t\n", 0o644), testutil.Dir("td", 0o755), testutil.File("td/x", "x\n", 0o644))
	b.okIn(tarball, "cp", "-", c+":/dst")
	if got := b.sh(c, "cat /dst/fromtar /dst/td/x"); got != "t\nx\n" {
		t.Fatalf("tar from stdin: %q", got)
	}
	if _, errs, code := b.run(tarball, "cp", "-", c+":/dst/existing"); code != 125 || !strings.Contains(errs, "must be a directory") {
		t.Fatalf("tar to a file: %d %q", code, errs)
	}
	// a file never replaces a directory
	os.Mkdir(filepath.Join(src, "x"), 0o755)
	os.WriteFile(filepath.Join(src, "x", "dir"), []byte("f"), 0o644)
	b.fails("cannot overwrite directory", "cp", filepath.Join(src, "x")+"/.", c+":/dst")
}

// TestCpSymlinkEscape: symlinks in the container that point at host paths
// resolve inside the container, both ways.
func TestCpSymlinkEscape(t *testing.T) {
	b := newFB(t)
	for _, running := range []bool{true, false} {
		c := "cpesc-stopped"
		if running {
			c = "cpesc-running"
			b.ok("run", "-d", "--name", c, b.img, "sleep", "1000")
		} else {
			b.ok("create", "--name", c, b.img, "sleep", "1000")
		}
		// The container's own files, and links to absolute and climbing
		// paths that would mean the host's /etc outside the container.
		host := t.TempDir()
		marker := filepath.Join(host, "marker")
		os.WriteFile(marker, []byte("host\n"), 0o644)
		tarball := testutil.Tar(t,
			testutil.Dir(strings.TrimPrefix(host, "/"), 0o755),
			testutil.Dir("etcx", 0o755), testutil.File("etcx/marker", "container\n", 0o644),
			testutil.Symlink("abs", host), testutil.Symlink("up", "../../../../../.."+host),
			testutil.Symlink("toetcx", "/etcx"))
		b.okIn(tarball, "cp", "-", c+":/")

		out := t.TempDir()
		// reading through the links never reaches the host's file
		for _, p := range []string{"/abs/marker", "/up/marker"} {
			b.fails("Could not find the file", "cp", c+":"+p, filepath.Join(out, "x"))
		}
		b.ok("cp", c+":/toetcx/marker", filepath.Join(out, "m"))
		if got := readFile(t, filepath.Join(out, "m")); got != "container\n" {
			t.Fatalf("read through an in-container link: %q", got)
		}
		// writing through them lands inside the container
		src := filepath.Join(t.TempDir(), "marker")
		os.WriteFile(src, []byte("evil\n"), 0o644)
		b.ok("cp", src, c+":/abs/")
		b.ok("cp", src, c+":/up")
		b.okIn(testutil.Tar(t, testutil.File("marker", "evil\n", 0o644)), "cp", "-", c+":/abs")
		if got := readFile(t, marker); got != "host\n" {
			t.Fatalf("host file written through a container symlink: %q", got)
		}
		// the copies are in the container, under the link's target
		got := t.TempDir()
		b.ok("cp", c+":"+host+"/marker", filepath.Join(got, "m"))
		if s := readFile(t, filepath.Join(got, "m")); s != "evil\n" {
			t.Fatalf("copy through the link: %q", s)
		}
		// a tar whose entries climb out is refused
		climb := testutil.Tar(t, testutil.File("../../../../"+host+"/marker", "evil\n", 0o644))
		b.run(climb, "cp", "-", c+":/etcx")
		if got := readFile(t, marker); got != "host\n" {
			t.Fatalf("host file written by a climbing tar entry: %q", got)
		}
		// a container dir holding a link out, copied to the host, keeps the
		// link a link
		b.ok("cp", c+":/", filepath.Join(out, "all"))
		if l, err := os.Readlink(filepath.Join(out, "all", "abs")); err != nil || l != host {
			t.Fatalf("link copied out: %q %v", l, err)
		}
		if got := readFile(t, marker); got != "host\n" {
			t.Fatalf("host file changed: %q", got)
		}
	}
}

// TestCpVolumes: container paths under volumes and binds are the volume's,
// on a running and on a stopped container; read-only ones refuse writes.
func TestCpVolumes(t *testing.T) {
	b := newFB(t)
	b.ok("volume", "create", "cpvol")
	host := t.TempDir()
	ro := t.TempDir()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("payload\n"), 0o644)
	for _, running := range []bool{true, false} {
		c := "cpvol-stopped"
		if running {
			c = "cpvol-running"
		}
		args := []string{"--name", c, "-v", "cpvol:/vol", "-v", host + ":/bind", "-v", ro + ":/ro:ro", b.img}
		if running {
			b.ok(append(append([]string{"run", "-d"}, args...), "sleep", "1000")...)
		} else {
			b.ok(append(append([]string{"run"}, args...), "true")...)
		}
		b.ok("cp", src, c+":/vol/"+c)
		b.ok("cp", src, c+":/bind/"+c)
		if got := readFile(t, filepath.Join(host, c)); got != "payload\n" {
			t.Fatalf("%s: bind: %q", c, got)
		}
		b.fails("read-only", "cp", src, c+":/ro/x")
		out := t.TempDir()
		b.ok("cp", c+":/vol/"+c, filepath.Join(out, "back"))
		if got := readFile(t, filepath.Join(out, "back")); got != "payload\n" {
			t.Fatalf("%s: volume read back: %q", c, got)
		}
	}
	// Both copies are in the volume, not in the containers' own layers.
	if out := b.ok("run", "--rm", "-v", "cpvol:/v", b.img, "ls", "/v"); out != "cpvol-running\ncpvol-stopped\n" {
		t.Fatalf("volume content: %q", out)
	}
	if _, err := os.Stat(filepath.Join(ro, "x")); err == nil {
		t.Fatal("written into a read-only bind")
	}
}

// TestCpStoppedContainer: cp both ways on a container that is not running,
// and the container sees the copy when it starts.
func TestCpStoppedContainer(t *testing.T) {
	b := newFB(t)
	b.ok("create", "--name", "cpstopped", b.img, "cat", "/in/f")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "in"), 0o755)
	os.WriteFile(filepath.Join(dir, "in", "f"), []byte("copied in\n"), 0o644)
	b.ok("cp", filepath.Join(dir, "in"), "cpstopped:/")
	if out := b.ok("start", "-a", "cpstopped"); out != "copied in\n" {
		t.Fatalf("start after cp: %q", out)
	}
	b.ok("cp", "cpstopped:/in/f", filepath.Join(dir, "back"))
	if got := readFile(t, filepath.Join(dir, "back")); got != "copied in\n" {
		t.Fatalf("cp from stopped: %q", got)
	}
}

func TestExport(t *testing.T) {
	b := newFB(t)
	b.ok("run", "--name", "exp-stopped", "-v", "expvol:/vol", b.img, "sh", "-c", "echo made > /made && rm /etc/berth-test && echo v > /vol/f")
	b.ok("run", "-d", "--name", "exp-running", b.img, "sh", "-c", "echo live > /live; sleep 1000")
	for _, c := range []string{"exp-stopped", "exp-running"} {
		data := []byte(b.ok("export", c))
		if c == "exp-running" {
			// -o writes the same, through a temp file
			p := filepath.Join(t.TempDir(), "out.tar")
			b.ok("export", "-o", p, c)
			var err error
			if data, err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
		ents := tarEntries(t, data)
		if !strings.HasPrefix(ents["bin/busybox"], "\x7fELF") || ents["bin/"] != "dir" {
			t.Fatalf("%s: export lacks the image's files (%d entries)", c, len(ents))
		}
		for n := range ents {
			if strings.HasPrefix(n, "./") || strings.HasPrefix(n, "/") || strings.HasPrefix(n, "proc/") && n != "proc/" {
				t.Fatalf("%s: entry %q", c, n)
			}
		}
		switch c {
		case "exp-stopped":
			if ents["made"] != "made\n" {
				t.Fatalf("export lacks the container's file: %v", ents["made"])
			}
			if _, ok := ents["etc/berth-test"]; ok {
				t.Fatal("export has a file the container deleted")
			}
			if _, ok := ents["vol/f"]; ok {
				t.Fatal("export has the volume's content")
			}
		case "exp-running":
			if ents["live"] != "live\n" {
				t.Fatalf("export of a running container lacks its file: %v", ents["live"])
			}
		}
	}
	b.fails("No such container", "export", "nosuch")
	if _, errs, code := b.run(nil, "export", "-o", filepath.Join(t.TempDir(), "no/dir/x.tar"), "exp-stopped"); code != 125 || errs == "" {
		t.Fatalf("export to a missing dir: %d %q", code, errs)
	}
}

func TestCommit(t *testing.T) {
	b := newFB(t)
	b.ok("run", "--name", "cm1", b.img, "sh", "-c",
		"echo new > /created && echo changed > /etc/berth-test && rm /bin/vi && mkdir -p /var/d && echo deep > /var/d/x")
	id := strings.TrimSpace(b.ok("commit", "-a", "Ann <a@b>", "-m", "first", "-c", `CMD ["cat","/created"]`, "-c", "ENV MODE=prod X=1",
		"-c", "LABEL stage=two", "-c", "WORKDIR /var/d", "-c", "EXPOSE 8080/udp", "cm1", "fs/committed:v1"))
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("commit printed %q, want an image ID", id)
	}
	// The image runs, with the container's changes and the new config.
	if out := b.ok("run", "--rm", "fs/committed:v1"); out != "new\n" {
		t.Fatalf("CMD of the committed image: %q", out)
	}
	out := b.ok("run", "--rm", "fs/committed:v1", "sh", "-c",
		"cat /etc/berth-test /var/d/x; pwd; echo $MODE $X; test -e /bin/vi && echo vi still there; test -e /bin/sh && echo sh kept")
	if out != "changed\ndeep\n/var/d\nprod 1\nsh kept\n" {
		t.Fatalf("committed filesystem/config: %q", out)
	}
	insp := b.ok("image", "inspect", "fs/committed:v1")
	for _, want := range []string{`"stage": "two"`, `"8080/udp"`, `"Author": "Ann \u003ca@b\u003e"`, strings.TrimPrefix(id, "sha256:")} {
		if !strings.Contains(insp, want) {
			t.Fatalf("image inspect lacks %s:\n%s", want, insp)
		}
	}
	if hist := b.ok("history", "--no-trunc", "fs/committed:v1"); !strings.Contains(hist, "first") {
		t.Fatalf("history lacks the commit message:\n%s", hist)
	}
	// save exports it, with the new layer
	p := filepath.Join(t.TempDir(), "c.tar")
	b.ok("save", "-o", p, "fs/committed:v1")
	data, _ := os.ReadFile(p)
	ents := tarEntries(t, data)
	if ents["manifest.json"] == "" || !strings.Contains(ents["manifest.json"], "fs/committed:v1") {
		t.Fatalf("save of the committed image: %v", ents["manifest.json"])
	}
	// The new layer holds exactly the container's changes.
	var mf []struct{ Layers []string }
	if err := json.Unmarshal([]byte(ents["manifest.json"]), &mf); err != nil || len(mf) != 1 || len(mf[0].Layers) != 2 {
		t.Fatalf("saved manifest: %v %s", err, ents["manifest.json"])
	}
	zr, err := gzip.NewReader(strings.NewReader(ents[mf[0].Layers[1]]))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, _ := io.ReadAll(zr)
	var names []string
	for n := range tarEntries(t, layerTar) {
		names = append(names, n)
	}
	sort.Strings(names)
	// (no runtime stubs: /etc/hosts, /etc/resolv.conf... are mount points)
	if got := strings.Join(names, " "); got != "bin/ bin/.wh.vi created etc/ etc/berth-test var/ var/d/ var/d/x" {
		t.Fatalf("committed layer: %s", got)
	}

	// A commit of the committed image's container stacks another layer;
	// ENTRYPOINT without CMD drops the inherited CMD, as Docker.
	b.ok("run", "--name", "cm2", "fs/committed:v1", "sh", "-c", "rm /created; echo two > /second")
	b.ok("commit", "-c", `ENTRYPOINT ["sh","-c","ls /; cat /second"]`, "cm2", "fs/committed:v2")
	out = b.ok("run", "--rm", "fs/committed:v2")
	if strings.Contains(out, "created") || !strings.HasSuffix(out, "two\n") {
		t.Fatalf("second commit: %q", out)
	}

	// Untagged: only the ID, usable to run.
	uid := strings.TrimSpace(b.ok("commit", "cm1"))
	if !strings.HasPrefix(uid, "sha256:") {
		t.Fatalf("untagged commit printed %q", uid)
	}
	if out := b.ok("run", "--rm", strings.TrimPrefix(uid, "sha256:")[:12], "cat", "/created"); out != "new\n" {
		t.Fatalf("run by ID: %q", out)
	}
	if ids := b.ok("images", "-q"); !strings.Contains(ids, strings.TrimPrefix(uid, "sha256:")[:12]) {
		t.Fatalf("images lacks the untagged commit: %q", ids)
	}
}

func TestCommitRunning(t *testing.T) {
	b := newFB(t)
	b.ok("run", "-d", "--name", "cmrun", b.img, "sh", "-c", "echo $$ > /pid; while true; do date > /ticks; sleep 0.05; done")
	b.sh("cmrun", "echo hot > /hot")
	b.ok("commit", "cmrun", "fs/hot")
	if st := strings.TrimSpace(b.ok("inspect", "--format", "{{.State.Status}}", "cmrun")); st != "running" {
		t.Fatalf("container after commit: %s", st)
	}
	if out := b.ok("run", "--rm", "fs/hot", "cat", "/hot"); out != "hot\n" {
		t.Fatalf("commit of a running container: %q", out)
	}
	// --pause=false commits without freezing it
	b.ok("commit", "--pause=false", "cmrun", "fs/hot:nopause")
	if out := b.ok("run", "--rm", "fs/hot:nopause", "cat", "/hot"); out != "hot\n" {
		t.Fatalf("commit --pause=false: %q", out)
	}
}

// TestCommitErrors: bad input exits 125 with a clear message and leaves
// no image and no blob behind.
func TestCommitErrors(t *testing.T) {
	b := newFB(t)
	b.ok("run", "--name", "cmerr", b.img, "sh", "-c", "echo x > /x")
	before := b.blobs()
	images := b.ok("images", "-q")
	b.fails("No such container", "commit", "nosuch", "fs/x")
	b.fails("FROM is not a valid change command", "commit", "-c", "FROM busybox", "cmerr", "fs/x")
	b.fails("EXPOSE", "commit", "-c", "EXPOSE notaport", "cmerr", "fs/x")
	b.fails("invalid signal", "commit", "-c", "STOPSIGNAL SIGNOPE", "cmerr", "fs/x")
	b.fails("invalid reference", "commit", "cmerr", "Bad:Name:x")
	b.fails("digest", "commit", "cmerr", "fs/x@sha256:"+strings.Repeat("a", 64))
	if after := b.blobs(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("failed commits left blobs: %v -> %v", before, after)
	}
	if got := b.ok("images", "-q"); got != images {
		t.Fatalf("failed commits left images: %q -> %q", images, got)
	}
	if ents, _ := os.ReadDir(filepath.Join(b.runroot, "tmp")); len(ents) > 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}
