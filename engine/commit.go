package engine

// commit: a container's changes become a new image (Docker's
// POST /commit). The image is the container's image layers plus one layer
// holding the diff of the container's snapshot against its parent
// (whiteouts for deleted files), with the container's config, changed by
// Dockerfile instructions, and one more history entry.

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
)

// DanglingRepo names the records of images committed without a name:
// berth keeps every image under a name, so an untagged commit is recorded
// as DanglingRepo@<manifest digest> (listings may show it as <none>).
const DanglingRepo = "berth.local/dangling"

// CommitOptions are `commit`'s flags.
type CommitOptions struct {
	// Name is the record to write (a normalised reference); "" records
	// the image as DanglingRepo@<manifest digest>.
	Name    string
	Author  string
	Message string
	// Changes are Dockerfile instructions applied to the config: CMD,
	// ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR,
	// STOPSIGNAL.
	Changes []string
	// Pause freezes a running container while its changes are read.
	Pause bool
}

// CommitResult is the image a commit made.
type CommitResult struct {
	ID       digest.Digest      // the config digest: Docker's image ID
	Manifest ocispec.Descriptor // the stored manifest
	Name     string             // the record written
	Layers   int
}

// Commit makes an image of the container ref in the store s. Nothing is
// left in the store when it fails.
func (e *Engine) Commit(ctx context.Context, ref string, s *store.Store, o CommitOptions) (*CommitResult, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg := e.Inspect(c).Config.Config
	// History says what the container ran, as Docker's.
	createdBy := strings.Join(append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...), " ")
	ch := newChanger(&cfg)
	for _, line := range o.Changes {
		if err := ch.apply(line); err != nil {
			return nil, err
		}
	}
	base, err := baseImage(ctx, s, c)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}

	if o.Pause && c.State.Status == StatusRunning {
		if err := e.Pause(ctx, c.ID); err != nil {
			return nil, fmt.Errorf("commit %s: pause: %w", c.Name, err)
		}
		defer e.Unpause(context.WithoutCancel(ctx), c.ID)
	}
	diff, err := e.diffLayer(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	defer os.Remove(diff.path)

	img, err := commitImage(base, c, &cfg, ch.onBuild, createdBy, diff, o)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	res, err := storeImage(ctx, s, img, o.Name)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	e.emit("container", "commit", c, map[string]string{"comment": o.Message, "imageID": res.ID.String()})
	return res, nil
}

// baseImage is the container's image as ggcr sees it, or the empty image
// for a container of no image.
func baseImage(ctx context.Context, s *store.Store, c *Container) (v1.Image, error) {
	if c.ImageID == "" {
		return empty.Image, nil
	}
	id, err := digest.Parse(c.ImageID)
	if err != nil {
		return nil, fmt.Errorf("image ID %q: %w", c.ImageID, err)
	}
	match := func(rec store.Image) *store.Manifest {
		m, err := s.Manifest(ctx, rec.Target, nil)
		if err != nil || m.Config.Digest != id {
			return nil
		}
		return m
	}
	var m *store.Manifest
	name := c.Image
	if r, err := reference.Parse(c.Image); err == nil {
		name = r.String()
	}
	if rec, err := s.GetImage(ctx, name); err == nil {
		m = match(rec)
	}
	if m == nil {
		recs, err := s.Images(ctx)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if m = match(rec); m != nil {
				break
			}
		}
	}
	if m == nil {
		return nil, fmt.Errorf("the container's image %s (%s) is no longer in the store", c.Image, c.ImageID)
	}
	return s.V1Image(m.Descriptor)
}

// diffFile is the container's changes as a gzip layer in a temp file.
type diffFile struct {
	path   string
	digest digest.Digest // of the gzip blob
	diffID digest.Digest // of the tar
	size   int64
	empty  bool // no entries: no layer is added
}

func (e *Engine) diffLayer(ctx context.Context, c *Container) (*diffFile, error) {
	sn, err := e.OpenSnapshotter(c.Snapshotter)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	upper, err := sn.Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return nil, fmt.Errorf("the container's snapshot: %w", err)
	}
	var lower []mount.Mount
	if c.Parent != "" {
		key := "commit-" + c.ID[:12] + "-" + randHex(6)
		if lower, err = sn.View(ctx, key, c.Parent); err != nil {
			return nil, fmt.Errorf("view of the image's layers %s: %w", c.Parent, err)
		}
		defer sn.Remove(context.WithoutCancel(ctx), key)
	}
	if err := os.MkdirAll(e.tmpDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(e.tmpDir(), "commit-*.tar.gz")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	gz, err := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	// The tar passes through a filter that drops the runtime's mount point
	// stubs and counts what is left, so that a container with no changes
	// adds no layer (as Docker).
	th := sha256.New()
	pr, pw := io.Pipe()
	filtered := make(chan filterResult, 1)
	go func() { filtered <- filterLayer(pr, io.MultiWriter(gz, th)) }()
	_, err = layer.DiffMounts(ctx, pw, lower, upper)
	pw.CloseWithError(err)
	fr := <-filtered
	if err == nil {
		err = fr.err
	}
	if err != nil {
		return nil, fmt.Errorf("diff of the container's filesystem: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	ok = true
	return &diffFile{
		path:   f.Name(),
		digest: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)),
		diffID: digest.NewDigestFromBytes(digest.SHA256, th.Sum(nil)),
		size:   cw.n,
		empty:  fr.entries == 0,
	}, nil
}

type filterResult struct {
	entries int
	err     error
}

// runtimeStubs are what the runtime creates in a rootfs as mount points
// for its own files when the image lacks them (Docker keeps them in an
// init layer, out of commits).
var runtimeStubs = map[string]bool{
	"etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true, "etc/mtab": true,
	"proc": true, "sys": true, "dev": true, "dev/pts": true, "dev/shm": true, "dev/console": true,
	".dockerenv": true,
}

// filterLayer copies the layer tar r to w without the runtime's stubs
// (empty files and directories at those paths) and counts the entries.
func filterLayer(r *io.PipeReader, w io.Writer) filterResult {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	n := 0
	fail := func(err error) filterResult {
		r.CloseWithError(err)
		return filterResult{n, err}
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+hdr.Name), "/"), "/")
		if runtimeStubs[name] && (hdr.Typeflag == tar.TypeDir || hdr.Typeflag == tar.TypeReg && hdr.Size == 0 || hdr.Typeflag == tar.TypeSymlink) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fail(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fail(err)
		}
		n++
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	io.Copy(io.Discard, r) // padding after the trailer
	return filterResult{n, nil}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fileLayer is the diff as a ggcr layer with its digests known.
type fileLayer struct {
	d  *diffFile
	mt types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error) { return v1.NewHash(l.d.digest.String()) }
func (l *fileLayer) DiffID() (v1.Hash, error) { return v1.NewHash(l.d.diffID.String()) }
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	return os.Open(l.d.path)
}
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.d.path)
	if err != nil {
		return nil, err
	}
	r, _, err := layer.Decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, multiCloser{r, f}}, nil
}
func (l *fileLayer) Size() (int64, error)                { return l.d.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// commitImage is base plus the diff layer, with cfg as its config.
func commitImage(base v1.Image, c *Container, cfg *Config, onBuild []string, createdBy string, d *diffFile, o CommitOptions) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, err
	}
	lmt := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		lmt = types.DockerLayer
	}
	now := time.Now().UTC()
	hist := v1.History{
		Author:     o.Author,
		Created:    v1.Time{Time: now},
		CreatedBy:  createdBy,
		Comment:    o.Message,
		EmptyLayer: d.empty,
	}
	img := base
	if d.empty {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.History = append(cf.History, hist)
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
	} else {
		img, err = mutate.Append(base, mutate.Addendum{Layer: &fileLayer{d: d, mt: lmt}, History: hist, MediaType: lmt})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if cf.OS == "" {
		cf.OS = "linux"
	}
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	cf.Created = v1.Time{Time: now}
	cf.Author = o.Author
	cf.Container = c.ID
	cf.DockerVersion = ""
	cf.Config = toV1Config(cfg, onBuild, cf.Config)
	return mutate.ConfigFile(img, cf)
}

// toV1Config is the image config of the container's effective config; the
// fields a container config has no word for (OnBuild, Shell, ArgsEscaped)
// come from the base image.
func toV1Config(cfg *Config, onBuild []string, base v1.Config) v1.Config {
	out := v1.Config{
		User:         cfg.User,
		ExposedPorts: cfg.ExposedPorts,
		Env:          cfg.Env,
		Entrypoint:   cfg.Entrypoint,
		Cmd:          cfg.Cmd,
		Volumes:      cfg.Volumes,
		WorkingDir:   cfg.WorkingDir,
		Labels:       cfg.Labels,
		StopSignal:   cfg.StopSignal,
		OnBuild:      base.OnBuild,
		Shell:        base.Shell,
		ArgsEscaped:  base.ArgsEscaped,
	}
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	if h := cfg.Healthcheck; h != nil {
		out.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	if onBuild != nil {
		out.OnBuild = append(append([]string(nil), base.OnBuild...), onBuild...)
	}
	return out
}

// storeImage writes img and its record, holding the store against Prune in
// between; on failure the blobs it wrote go again.
func storeImage(ctx context.Context, s *store.Store, img v1.Image, name string) (*CommitResult, error) {
	hold, err := s.Hold(ctx)
	if err != nil {
		return nil, err
	}
	release := sync.OnceFunc(hold)
	defer release()
	var written []digest.Digest
	discard := func() {
		release()
		s.Discard(context.WithoutCancel(ctx), written...)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		dd := digest.Digest(d.String())
		if ok, _ := s.Exists(dd); !ok {
			written = append(written, dd)
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	written = append(written, digest.Digest(cfgName.String()))
	desc, err := s.WriteImage(ctx, img)
	if err != nil {
		discard()
		return nil, fmt.Errorf("store the image: %w", err)
	}
	written = append(written, desc.Digest)
	if name == "" {
		name = DanglingRepo + "@" + desc.Digest.String()
	}
	if err := s.PutImage(ctx, store.Image{Name: name, Target: desc}); err != nil {
		discard()
		return nil, fmt.Errorf("record the image %s: %w", name, err)
	}
	return &CommitResult{ID: digest.Digest(cfgName.String()), Manifest: desc, Name: name, Layers: len(layers)}, nil
}

// ---- --change: Dockerfile instructions on a config ----

// changer applies Dockerfile instructions to a config as Docker's commit
// does (a new ENTRYPOINT drops a CMD this commit did not set).
type changer struct {
	cfg     *Config
	cmdSet  bool
	onBuild []string
}

func newChanger(cfg *Config) *changer { return &changer{cfg: cfg} }

func (ch *changer) apply(line string) error {
	line = strings.TrimSpace(line)
	kw, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		kw, rest = line[:i], strings.TrimSpace(line[i+1:])
	}
	kw = strings.ToUpper(kw)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--change %q: %s", line, fmt.Sprintf(format, a...))
	}
	if line == "" {
		return bad("empty instruction")
	}
	c := ch.cfg
	switch kw {
	case "CMD", "ENTRYPOINT":
		args, err := execOrShell(rest)
		if err != nil {
			return bad("%v", err)
		}
		if kw == "CMD" {
			c.Cmd, ch.cmdSet = args, true
		} else {
			c.Entrypoint = args
			if !ch.cmdSet {
				c.Cmd = nil
			}
		}
	case "ENV", "LABEL":
		kvs, err := parseKeyValues(rest, kw == "ENV", c.Env)
		if err != nil {
			return bad("%v", err)
		}
		for _, kv := range kvs {
			if kw == "ENV" {
				c.Env = setEnv(c.Env, kv[0], kv[1])
			} else {
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				c.Labels[kv[0]] = kv[1]
			}
		}
	case "EXPOSE":
		words, err := shellWords(rest, c.Env)
		if err != nil || len(words) == 0 {
			return bad("EXPOSE requires at least one port")
		}
		for _, w := range words {
			ports, err := exposePorts(w)
			if err != nil {
				return bad("%v", err)
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				c.ExposedPorts[p] = struct{}{}
			}
		}
	case "USER", "WORKDIR", "STOPSIGNAL":
		words, err := shellWords(rest, c.Env)
		if err != nil || len(words) != 1 {
			return bad("%s requires exactly one argument", kw)
		}
		switch kw {
		case "USER":
			c.User = words[0]
		case "WORKDIR":
			w := words[0]
			if !path.IsAbs(w) {
				w = path.Join("/", c.WorkingDir, w)
			}
			c.WorkingDir = path.Clean(w)
		case "STOPSIGNAL":
			if !validSignal(words[0]) {
				return bad("invalid signal: %s", words[0])
			}
			c.StopSignal = words[0]
		}
	case "VOLUME":
		var vols []string
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return bad("VOLUME: not a JSON array of strings")
			}
		} else {
			var err error
			if vols, err = shellWords(rest, c.Env); err != nil {
				return bad("%v", err)
			}
		}
		if len(vols) == 0 {
			return bad("VOLUME requires at least one argument")
		}
		for _, v := range vols {
			if strings.TrimSpace(v) == "" {
				return bad("VOLUME specified can not be an empty string")
			}
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			c.Volumes[v] = struct{}{}
		}
	case "ONBUILD":
		if rest == "" {
			return bad("ONBUILD requires an instruction")
		}
		ch.onBuild = append(ch.onBuild, rest)
	default:
		return fmt.Errorf("--change %q: %s is not a valid change command", line, kw)
	}
	return nil
}

// execOrShell parses CMD/ENTRYPOINT arguments: a JSON array (exec form),
// else a command for /bin/sh -c (shell form).
func execOrShell(rest string) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			return args, nil
		}
		// Docker falls back to the shell form for a malformed array.
	}
	if rest == "" {
		return nil, errors.New("requires an argument")
	}
	return []string{"/bin/sh", "-c", rest}, nil
}

// parseKeyValues parses ENV/LABEL: k=v pairs (quotes and escapes as a
// shell), or the legacy "ENV k v w".
func parseKeyValues(rest string, expand bool, env []string) ([][2]string, error) {
	if rest == "" {
		return nil, errors.New("requires at least one argument")
	}
	var vars []string
	if expand {
		vars = env
	}
	first, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if !strings.Contains(first, "=") {
		// Legacy form: the first word is the key, the rest the value.
		k, v, _ := strings.Cut(rest, " ")
		words, err := shellWords(strings.TrimSpace(v), vars)
		if err != nil {
			return nil, err
		}
		if len(words) == 0 {
			return nil, fmt.Errorf("%s needs a value", k)
		}
		return [][2]string{{k, strings.Join(words, " ")}}, nil
	}
	words, err := shellWords(rest, vars)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
		if expand {
			vars = setEnv(vars, k, v)
		}
	}
	return out, nil
}

// shellWords splits s as a Dockerfile does: whitespace separates words,
// quotes and backslashes group and escape, and $VAR / ${VAR} expand from
// env (never inside single quotes).
func shellWords(s string, env []string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	lookup := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if ek, v, ok := strings.Cut(env[i], "="); ok && ek == k {
				return v
			}
		}
		return ""
	}
	expand := func(i int) int { // s[i] == '$'
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				cur.WriteByte('$')
				return i + 1
			}
			name := s[i+2 : i+end]
			if k, def, ok := strings.Cut(name, ":-"); ok {
				if v := lookup(k); v != "" {
					cur.WriteString(v)
				} else {
					cur.WriteString(def)
				}
			} else {
				cur.WriteString(lookup(name))
			}
			return i + end + 1
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 {
			cur.WriteByte('$')
			return j
		}
		cur.WriteString(lookup(s[i+1 : j]))
		return j
	}
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inWord = true
			i += 2
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case ch == '"':
			inWord = true
			i++
			closed := false
			for i < len(s) {
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.ContainsRune("\"\\$`", rune(s[i+1])) {
					cur.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '$' && env != nil {
					i = expand(i)
					continue
				}
				cur.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		case ch == '$' && env != nil:
			inWord = true
			i = expand(i)
		default:
			cur.WriteByte(ch)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek != k {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}

// exposePorts parses "80", "80/udp" or "8000-8002/tcp".
func exposePorts(w string) ([]string, error) {
	p, proto, _ := strings.Cut(w, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", p)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return nil, fmt.Errorf("invalid port range: %s", p)
		}
	}
	var out []string
	for x := a; x <= b; x++ {
		out = append(out, fmt.Sprintf("%d/%s", x, proto))
	}
	return out, nil
}

func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n < 65
	}
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	switch s {
	case "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
		"PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
		"XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS":
		return true
	}
	return strings.HasPrefix(s, "RTMIN") || strings.HasPrefix(s, "RTMAX")
}
