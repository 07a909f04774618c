package seccomp

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxCacheEntries bounds the cache directory; when a new entry pushes it
// over, the oldest entries (by modification time) are removed.
var MaxCacheEntries = 128

// cacheFormat changes whenever Compile's output for the same profile would
// change (stub layout, wire format), so old entries stop matching.
const cacheFormat = "berth-seccomp-cache/1"

// CacheKey returns the cache file name for cfg: the hex SHA-256 of the
// canonical profile (its JSON without listenerPath/listenerMetadata, which do
// not change the filter), the libseccomp version and the host architecture.
func CacheKey(cfg *specs.LinuxSeccomp) (string, error) {
	if cfg == nil {
		return "", badField(fieldRoot, "no profile")
	}
	canon := *cfg
	canon.ListenerPath, canon.ListenerMetadata = "", ""
	js, err := json.Marshal(&canon)
	if err != nil {
		return "", fmt.Errorf("seccomp: encode profile for cache key: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00libseccomp %s\x00%s\x00", cacheFormat, LibseccompVersion(), runtime.GOARCH)
	h.Write(js)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CompileCached is Compile with a cache in cacheDir (created 0700 if
// missing). A hit skips libseccomp entirely. Entries are written atomically
// (temp file + rename). An entry that is damaged, not a regular file, not
// owned by the current user, or writable by others is ignored and rewritten.
// Failing to write the cache is not an error: the compiled program is still
// returned. An empty cacheDir means no cache.
func CompileCached(cfg *specs.LinuxSeccomp, cacheDir string) (*Program, error) {
	if cacheDir == "" {
		return Compile(cfg)
	}
	key, err := CacheKey(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(cacheDir, key)
	if p, err := readCacheEntry(path); err == nil {
		return p, nil
	}
	p, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	_ = writeCacheEntry(cacheDir, key, p) // best effort, see doc
	return p, nil
}

func readCacheEntry(path string) (*Program, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	// The cache decides what the container may do: only trust files this
	// user wrote and nobody else can change.
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("seccomp cache %s: untrusted file", path)
	}
	if st.Size > MaxEncodedSize {
		return nil, fmt.Errorf("seccomp cache %s: %d bytes is too large", path, st.Size)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxEncodedSize+1))
	if err != nil {
		return nil, err
	}
	p := &Program{}
	if err := p.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("seccomp cache %s: %w", path, err)
	}
	return p, nil
}

func writeCacheEntry(dir, key string, p *Program) (err error) {
	data, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+key[:16]+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// No fsync: after a crash a damaged entry fails its checksum and is
	// rebuilt, which is cheaper than syncing on every miss.
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, key)); err != nil {
		return err
	}
	evict(dir, key)
	return nil
}

// evict trims dir to MaxCacheEntries, oldest first, keeping keep.
func evict(dir, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) <= MaxCacheEntries {
		return
	}
	type ent struct {
		name string
		mod  int64
	}
	var list []ent
	for _, e := range ents {
		if e.Name() == keep || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		list = append(list, ent{e.Name(), info.ModTime().UnixNano()})
	}
	slices.SortFunc(list, func(a, b ent) int { return cmp.Compare(a.mod, b.mod) })
	for i := 0; i < len(ents)-MaxCacheEntries && i < len(list); i++ {
		if err := os.Remove(filepath.Join(dir, list[i].name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}
