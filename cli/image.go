package cli

// Shared machinery of the image commands (pull, images, rmi, ...): where
// the store and the snapshots live, how a user's IMAGE argument finds a
// record, unpacking, and the garbage collection behind rmi and prune.
//
// State under --root:
//
//	image/            the content store (image/store: blobs + metadata.db)
//	snapshots/<name>/ one directory per snapshotter (erofs, overlay, native)
//	snapshots/gc.lock flock: shared while a command unpacks, exclusive while
//	                  rmi/prune removes snapshots, so neither sees half of the other

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/platform"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/unpack"
)

// snapshotters are the snapshotter names --snapshotter accepts.
var snapshotters = engine.Snapshotters

func storeDir() string { return filepath.Join(globals.root, "image") }

func snapshotsDir() string { return engine.SnapshotsDir(globals.root) }

// openStore opens (creating if needed) the image store under --root.
func openStore() (*store.Store, error) {
	s, err := store.New(storeDir())
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", storeDir(), err)
	}
	return s, nil
}

// openSnapshotter opens the snapshotter called name under --root.
func openSnapshotter(name string) (snapshot.Snapshotter, error) {
	return engine.OpenSnapshotter(globals.root, name)
}

// lockSnapshots takes the snapshot GC lock, shared or exclusive.
func lockSnapshots(exclusive bool) (func(), error) {
	return engine.LockSnapshots(globals.root, exclusive)
}

// registryOpts are the options every registry call gets: the registries
// config under --root (insecure hosts, mirrors).
func registryOpts() ([]registry.Opt, error) {
	c, err := registry.LoadConfig(registry.DefaultConfigPaths(globals.root)...)
	if err != nil {
		return nil, err
	}
	return []registry.Opt{registry.WithConfig(c)}, nil
}

// ErrNoSuchImage is wrapped by lookups of images that are not in the store.
var ErrNoSuchImage = errors.New("No such image") //nolint:staticcheck // Docker's wording

// localImage is an image record with its platform manifest resolved.
type localImage struct {
	rec store.Image
	ref reference.Reference
	m   *store.Manifest // nil if the record's content is incomplete
}

// ID is Docker's image ID: the config digest.
func (li *localImage) ID() digest.Digest {
	if li.m == nil {
		return li.rec.Target.Digest
	}
	return li.m.Config.Digest
}

// manifestOf resolves a record to the host platform's manifest or, if the
// record was pulled for another platform, to the first platform present.
func manifestOf(ctx context.Context, s *store.Store, rec store.Image) (*store.Manifest, error) {
	m, err := s.Manifest(ctx, rec.Target, nil)
	if err == nil || !store.IsIndex(rec.Target.MediaType) {
		return m, err
	}
	raw, rerr := s.ReadBlob(rec.Target.Digest)
	if rerr != nil {
		return nil, err
	}
	var idx ocispec.Index
	if json.Unmarshal(raw, &idx) != nil {
		return nil, err
	}
	for _, c := range idx.Manifests {
		if c.Platform == nil {
			continue
		}
		if ok, _ := s.Exists(c.Digest); !ok {
			continue
		}
		if m, err2 := s.Manifest(ctx, rec.Target, c.Platform); err2 == nil {
			return m, nil
		}
	}
	return nil, err
}

// allImages lists every record with its manifest.
func allImages(ctx context.Context, s *store.Store) ([]*localImage, error) {
	recs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*localImage, 0, len(recs))
	for _, r := range recs {
		ref, err := reference.Parse(r.Name)
		if err != nil {
			continue // not a name this CLI wrote; leave it alone
		}
		m, _ := manifestOf(ctx, s, r)
		out = append(out, &localImage{rec: r, ref: ref, m: m})
	}
	return out, nil
}

// findImages resolves a user's IMAGE argument the way Docker does: a
// reference (busybox, busybox:1.36, host/x@sha256:...), else an image ID
// or a unique prefix of one. It returns every record that matched (an ID
// can have several tags).
func findImages(ctx context.Context, s *store.Store, arg string) ([]*localImage, error) {
	ref, perr := reference.Parse(arg)
	if perr == nil {
		if rec, err := s.GetImage(ctx, ref.String()); err == nil {
			m, err := manifestOf(ctx, s, rec)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", arg, err)
			}
			return []*localImage{{rec: rec, ref: ref, m: m}}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if id, ok := idPrefix(arg); ok {
		all, err := allImages(ctx, s)
		if err != nil {
			return nil, err
		}
		var hits []*localImage
		ids := map[digest.Digest]bool{}
		for _, li := range all {
			if strings.HasPrefix(li.ID().Encoded(), id) {
				hits = append(hits, li)
				ids[li.ID()] = true
			}
		}
		if len(ids) > 1 {
			return nil, fmt.Errorf("image ID prefix %q is ambiguous: %d images match", arg, len(ids))
		}
		if len(hits) > 0 {
			return hits, nil
		}
	}
	if perr != nil {
		if _, ok := idPrefix(arg); !ok {
			return nil, perr
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoSuchImage, arg)
}

// idPrefix says whether s can be (a prefix of) an image ID.
func idPrefix(s string) (string, bool) {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) == 0 || len(s) > 64 {
		return "", false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return s, true
}

// layersOf is the unpack input for m: blobs read from the store.
func layersOf(s *store.Store, m *store.Manifest) []unpack.Layer {
	ls := make([]unpack.Layer, len(m.Layers))
	for i, l := range m.Layers {
		d := l.Digest
		ls[i] = unpack.Layer{
			DiffID: m.Image.RootFS.DiffIDs[i],
			Open:   func() (io.ReadCloser, error) { return s.Open(d) },
		}
	}
	return ls
}

// unpackImage makes the snapshots of m's layers in the --snapshotter and
// returns the top chain ID. An image without layers has nothing to unpack.
func unpackImage(ctx context.Context, s *store.Store, m *store.Manifest) (string, error) {
	if len(m.Layers) == 0 {
		return "", nil
	}
	unlock, err := lockSnapshots(false)
	if err != nil {
		return "", err
	}
	defer unlock()
	sn, err := openSnapshotter(globals.snapshotter)
	if err != nil {
		return "", err
	}
	defer sn.Close()
	top, err := unpack.Unpack(ctx, sn, layersOf(s, m), unpack.Options{})
	if err != nil {
		return "", fmt.Errorf("unpack %s into the %s snapshotter: %w", m.Descriptor.Digest, globals.snapshotter, err)
	}
	return top, nil
}

// gcReport says what collectGarbage removed.
type gcReport struct {
	Blobs     []digest.Digest
	Bytes     int64
	Snapshots int
}

// collectGarbage deletes the blobs no image record references (store
// Prune) and, in every snapshotter, the committed snapshots that are no
// image's layer chain and no parent of a container's (active) snapshot.
func collectGarbage(ctx context.Context, s *store.Store) (*gcReport, error) {
	// No unpack runs while the lock is held, so the records read now cover
	// every snapshot made so far. Chain IDs to keep are computed before the
	// blobs go.
	unlock, err := lockSnapshots(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := allImages(ctx, s)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, li := range all {
		for _, m := range presentManifests(ctx, s, li) {
			if len(m.Image.RootFS.DiffIDs) != len(m.Layers) {
				continue
			}
			for _, c := range unpack.ChainIDs(m.Image.RootFS.DiffIDs) {
				keep[c.String()] = true
			}
		}
	}
	rep := &gcReport{}
	for _, name := range snapshotters {
		if _, err := os.Stat(filepath.Join(snapshotsDir(), name)); err != nil {
			continue
		}
		n, err := gcSnapshotter(ctx, name, keep)
		rep.Snapshots += n
		if err != nil {
			return rep, err
		}
	}
	pr, err := s.Prune(ctx)
	if err != nil {
		return rep, err
	}
	rep.Blobs, rep.Bytes = pr.Removed, pr.Bytes
	return rep, nil
}

// presentManifests lists every platform manifest of li that is in the store.
func presentManifests(ctx context.Context, s *store.Store, li *localImage) []*store.Manifest {
	if !store.IsIndex(li.rec.Target.MediaType) {
		if li.m != nil {
			return []*store.Manifest{li.m}
		}
		return nil
	}
	raw, err := s.ReadBlob(li.rec.Target.Digest)
	if err != nil {
		return nil
	}
	var idx ocispec.Index
	if json.Unmarshal(raw, &idx) != nil {
		return nil
	}
	var out []*store.Manifest
	for _, c := range idx.Manifests {
		if ok, _ := s.Exists(c.Digest); !ok || !store.IsManifest(c.MediaType) {
			continue
		}
		if m, err := s.Manifest(ctx, c, nil); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func gcSnapshotter(ctx context.Context, name string, keep map[string]bool) (int, error) {
	sn, err := openSnapshotter(name)
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	infos := map[string]snapshot.Info{}
	if err := sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
		infos[i.Name] = i
		return nil
	}); err != nil {
		return 0, fmt.Errorf("%s snapshotter: %w", name, err)
	}
	// Everything below an active snapshot or a view stays.
	live := map[string]bool{}
	for n, i := range infos {
		if i.Kind != snapshot.KindCommitted || keep[n] {
			for p := n; p != "" && !live[p]; p = infos[p].Parent {
				live[p] = true
			}
		}
	}
	removed := 0
	for {
		children := map[string]int{}
		for _, i := range infos {
			children[i.Parent]++
		}
		var leaves []string
		for n := range infos {
			if !live[n] && children[n] == 0 {
				leaves = append(leaves, n)
			}
		}
		if len(leaves) == 0 {
			// Directories no record names (a command killed between its
			// transaction and the file-system work) go too.
			if c, ok := sn.(interface{ Cleanup(context.Context) error }); ok {
				if err := c.Cleanup(ctx); err != nil {
					return removed, fmt.Errorf("%s snapshotter: cleanup: %w", name, err)
				}
			}
			return removed, nil
		}
		sort.Strings(leaves)
		for _, n := range leaves {
			if err := sn.Remove(ctx, n); err != nil {
				return removed, fmt.Errorf("%s snapshotter: remove %s: %w", name, n, err)
			}
			delete(infos, n)
			removed++
		}
	}
}

// repoTag splits a record's name the way `docker images` shows it.
func repoTag(ref reference.Reference) (repo, tag string) {
	if isDangling(ref) {
		return "<none>", "<none>"
	}
	fam := ref.WithTag("x").Familiar()
	repo = strings.TrimSuffix(fam, ":x")
	tag = ref.Tag
	if tag == "" {
		tag = "<none>"
	}
	return repo, tag
}

// isDangling says whether ref is the record of an untagged image (an
// untagged commit or import: see engine.DanglingRepo).
func isDangling(ref reference.Reference) bool {
	return strings.HasPrefix(ref.Name(), engine.DanglingRepo)
}

// platformOf returns the platform of m's config.
func platformOf(m *store.Manifest) string { return platform.Format(configPlatform(m)) }

func configPlatform(m *store.Manifest) ocispec.Platform {
	return ocispec.Platform{OS: m.Image.OS, Architecture: m.Image.Architecture, Variant: m.Image.Variant}
}

// imageSize is the size `images` shows: the compressed layers plus the
// config, i.e. what the image takes in the content store.
func imageSize(li *localImage) int64 {
	if li.m == nil {
		return li.rec.Target.Size
	}
	n := li.m.Config.Size + li.m.Descriptor.Size
	for _, l := range li.m.Layers {
		n += l.Size
	}
	return n
}

func created(li *localImage) time.Time {
	if li.m != nil && li.m.Image.Created != nil {
		return *li.m.Image.Created
	}
	return li.rec.Created
}

// humanSize is go-units' HumanSizeWithPrecision(n, 3), as docker prints sizes.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

// humanDuration is go-units' HumanDuration, as docker prints ages.
func humanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	} else if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	} else if h := int(d.Round(time.Hour).Hours()); h == 1 {
		return "About an hour"
	} else if h < 48 {
		return fmt.Sprintf("%d hours", h)
	} else if h < 24*7*2 {
		return fmt.Sprintf("%d days", h/24)
	} else if h < 24*30*2 {
		return fmt.Sprintf("%d weeks", h/24/7)
	} else if h < 24*365*2 {
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return humanDuration(time.Since(t)) + " ago"
}

// isTerminal says whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func shortID(d digest.Digest, noTrunc bool) string {
	if noTrunc {
		return d.String()
	}
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}
