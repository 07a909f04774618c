package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/testutil"
)

// TestCommitStopped: the committed image is the base layer plus the
// container's changes (a whiteout for the deleted file), with --change
// applied; a failed commit leaves nothing in the store.
func TestCommitStopped(t *testing.T) {
	f := newFSEnv(t)
	ctx := context.Background()
	c := f.create(t, "cmt")
	tb := testutil.Tar(t, testutil.File("added", "a\n", 0o644))
	if err := f.e.ExtractToDir(ctx, "cmt", "/etc", bytes.NewReader(tb), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	// delete a file of the image in the container's snapshot
	sn, _ := f.e.OpenSnapshotter("native")
	ms, err := sn.Mounts(ctx, c.SnapshotKey)
	sn.Close()
	if err != nil || len(ms) != 1 {
		t.Fatalf("mounts: %v %v", ms, err)
	}
	if err := os.Remove(filepath.Join(ms[0].Source, "etc/gone")); err != nil {
		t.Fatal(err)
	}

	blobs := func() int {
		ents, _ := os.ReadDir(filepath.Join(f.root, "image/blobs/sha256"))
		return len(ents)
	}
	before := blobs()
	if _, err := f.e.Commit(ctx, "cmt", f.s, CommitOptions{Name: "docker.io/library/x:1", Changes: []string{"BOGUS x"}}); err == nil || !strings.Contains(err.Error(), "not a valid change command") {
		t.Fatalf("bad change: %v", err)
	}
	if blobs() != before {
		t.Fatal("a failed commit left blobs")
	}

	res, err := f.e.Commit(ctx, "cmt", f.s, CommitOptions{Name: "docker.io/library/x:1", Author: "me", Message: "msg",
		Changes: []string{`CMD ["/bin/tool","-v"]`, "ENV A=1 B=\"two words\"", "USER 1000:1000", "VOLUME /v", "STOPSIGNAL SIGINT"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.s.ImageManifest(ctx, "docker.io/library/x:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != res.ID || len(m.Layers) != 2 || len(m.Image.RootFS.DiffIDs) != 2 {
		t.Fatalf("committed manifest: %+v", m)
	}
	ic := m.Image.Config
	if strings.Join(ic.Cmd, " ") != "/bin/tool -v" || strings.Join(ic.Env, ",") != "PATH=/bin,A=1,B=two words" || ic.User != "1000:1000" || ic.StopSignal != "SIGINT" {
		t.Fatalf("committed config: %+v", ic)
	}
	if _, ok := ic.Volumes["/v"]; !ok {
		t.Fatalf("VOLUME: %v", ic.Volumes)
	}
	if h := m.Image.History; len(h) == 0 || h[len(h)-1].Comment != "msg" || m.Image.Author != "me" {
		t.Fatalf("history/author: %+v %q", h, m.Image.Author)
	}
	// the new layer: the added file and a whiteout, its DiffID right
	rc, err := f.s.Open(m.Layers[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr)
	if got := digest.FromBytes(data); got != m.Image.RootFS.DiffIDs[1] {
		t.Fatalf("DiffID %s, layer hashes to %s", m.Image.RootFS.DiffIDs[1], got)
	}
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
	if !names["etc/added"] || !names["etc/.wh.gone"] || names["etc/keep"] || names["bin/tool"] {
		t.Fatalf("committed layer: %v", names)
	}

	// An untagged commit is recorded under DanglingRepo.
	res2, err := f.e.Commit(ctx, "cmt", f.s, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res2.Name, DanglingRepo+"@sha256:") {
		t.Fatalf("untagged record: %s", res2.Name)
	}
	// Without the base image in the store, nothing to build on.
	if err := f.s.DeleteImage(ctx, "docker.io/library/fsbase:latest"); err != nil {
		t.Fatal(err)
	}
	f.s.DeleteImage(ctx, "docker.io/library/x:1")
	f.s.DeleteImage(ctx, res2.Name)
	if _, err := f.s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Commit(ctx, "cmt", f.s, CommitOptions{}); err == nil || !strings.Contains(err.Error(), "no longer in the store") {
		t.Fatalf("commit without its image: %v", err)
	}
	if n := blobs(); n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}

// TestChanges: --change instructions on a config, as Docker's commit
// applies them (JSON and shell forms, quotes, $VAR, ENTRYPOINT vs CMD).
func TestChanges(t *testing.T) {
	cfg := Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "HOME=/root"}, WorkingDir: "/app"}
	ch := newChanger(&cfg)
	for _, line := range []string{
		`ENV A=1 B="two words" C=$HOME/x D='$HOME'`,
		`ENV legacy value with spaces`,
		`LABEL "com.x"="y z" k=v`,
		`EXPOSE 80 53/udp 8000-8001`,
		`WORKDIR sub`,
		`USER app:app`,
		`VOLUME ["/a", "/b"]`,
		`VOLUME /c`,
		`STOPSIGNAL 9`,
		`ONBUILD RUN make`,
		`entrypoint ["/bin/run"]`,
	} {
		if err := ch.apply(line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	env := strings.Join(cfg.Env, "|")
	if env != "PATH=/bin|HOME=/root|A=1|B=two words|C=/root/x|D=$HOME|legacy=value with spaces" {
		t.Fatalf("Env: %s", env)
	}
	if cfg.Labels["com.x"] != "y z" || cfg.Labels["k"] != "v" {
		t.Fatalf("Labels: %v", cfg.Labels)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Fatalf("ExposedPorts lacks %s: %v", p, cfg.ExposedPorts)
		}
	}
	if cfg.WorkingDir != "/app/sub" || cfg.User != "app:app" || cfg.StopSignal != "9" || len(cfg.Volumes) != 3 {
		t.Fatalf("config: %+v", cfg)
	}
	// ENTRYPOINT without CMD in the same commit drops the old CMD
	if strings.Join(cfg.Entrypoint, " ") != "/bin/run" || cfg.Cmd != nil {
		t.Fatalf("entrypoint/cmd: %v %v", cfg.Entrypoint, cfg.Cmd)
	}
	if len(ch.onBuild) != 1 || ch.onBuild[0] != "RUN make" {
		t.Fatalf("onbuild: %v", ch.onBuild)
	}
	// CMD in the shell form, set before ENTRYPOINT: kept
	cfg2 := Config{}
	ch2 := newChanger(&cfg2)
	for _, line := range []string{"CMD echo $HOME", `ENTRYPOINT ["tini","--"]`} {
		if err := ch2.apply(line); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(cfg2.Cmd, "|") != "/bin/sh|-c|echo $HOME" || len(cfg2.Entrypoint) != 2 {
		t.Fatalf("shell-form CMD: %q %q", cfg2.Cmd, cfg2.Entrypoint)
	}
	for _, bad := range []string{"FROM x", "RUN true", "", "EXPOSE 99999", "EXPOSE 80/xyz", "STOPSIGNAL NOPE", "ENV", "ENV =x", `LABEL a="unterminated`, "USER", "WORKDIR a b", "VOLUME [oops"} {
		if err := newChanger(&Config{}).apply(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
