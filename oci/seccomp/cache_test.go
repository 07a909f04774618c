package seccomp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileCached(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache") // created on demand
	cfg := dockerProfile()
	fresh := mustCompile(t, cfg)

	p1, err := CompileCached(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := CacheKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, key)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no cache entry written: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode %v, want 0600", st.Mode().Perm())
	}
	if !reflect.DeepEqual(p1, fresh) {
		t.Fatal("cached compile differs from Compile")
	}

	// A hit reads the file: prove it by planting a different valid program
	// under the key (same owner and mode) and getting it back.
	other := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}})
	writeEntry(t, path, other)
	if p, err := CompileCached(cfg, dir); err != nil || !reflect.DeepEqual(p, other) {
		t.Fatalf("cache hit did not return the stored program (err %v)", err)
	}
	writeEntry(t, path, fresh)
	p2, err := CompileCached(cfg, dir)
	if err != nil || !reflect.DeepEqual(p2, fresh) {
		t.Fatalf("second CompileCached: %v, equal %v", err, reflect.DeepEqual(p2, fresh))
	}

	good, _ := fresh.MarshalBinary()
	for _, d := range []struct {
		name   string
		damage func()
	}{
		{"bit flip", func() { b, _ := os.ReadFile(path); b[len(b)/2] ^= 1; os.WriteFile(path, b, 0o600) }},
		{"truncated", func() { os.Truncate(path, 100) }},
		{"empty", func() { os.WriteFile(path, nil, 0o600) }},
		{"garbage", func() { os.WriteFile(path, bytes.Repeat([]byte("x"), 5000), 0o600) }},
		{"world-writable", func() { writeEntry(t, path, other); os.Chmod(path, 0o666) }},
		{"symlink", func() { os.Remove(path); o := path + ".o"; writeEntry(t, o, other); os.Symlink(o, path) }},
		{"directory", func() { os.Remove(path); os.Mkdir(path, 0o700) }},
	} {
		name := d.name
		d.damage()
		p, err := CompileCached(cfg, dir)
		if err != nil || !reflect.DeepEqual(p, fresh) {
			t.Errorf("%s: CompileCached = err %v, equal %v; want the fresh program", name, err, reflect.DeepEqual(p, fresh))
		}
		if name == "directory" {
			// Cannot be replaced by rename; the entry stays unusable, and
			// every call compiles.
			os.Remove(path)
			continue
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, good) {
			t.Errorf("%s: cache entry not rewritten (err %v)", name, err)
		}
	}

	// Bad profiles are not cached and give the same errors.
	bad := &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"}
	var pe *ProfileError
	if _, err := CompileCached(bad, dir); !errors.As(err, &pe) || pe.Field != "linux.seccomp.defaultAction" {
		t.Errorf("bad profile through the cache: %v", err)
	}
	// No stray temp files.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func writeEntry(t *testing.T, path string, p *Program) {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCacheKey(t *testing.T) {
	a := dockerProfile()
	ka, _ := CacheKey(a)
	b := dockerProfile()
	b.ListenerPath, b.ListenerMetadata = "/run/agent.sock", "meta"
	kb, _ := CacheKey(b)
	if ka != kb {
		t.Error("listenerPath/listenerMetadata changed the cache key; they do not change the filter")
	}
	c := dockerProfile()
	c.Syscalls[0].Names = c.Syscalls[0].Names[1:]
	kc, _ := CacheKey(c)
	d := dockerProfile()
	d.DefaultErrnoRet = uintp(13)
	kd, _ := CacheKey(d)
	if kc == ka || kd == ka || kc == kd {
		t.Error("different profiles share a cache key")
	}
	if len(ka) != 64 {
		t.Errorf("key %q is not a hex sha256", ka)
	}
}

func TestCacheEviction(t *testing.T) {
	old := MaxCacheEntries
	MaxCacheEntries = 3
	defer func() { MaxCacheEntries = old }()
	dir := t.TempDir()
	var last string
	for i := range 6 {
		cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(i + 1))}}}
		if _, err := CompileCached(cfg, dir); err != nil {
			t.Fatal(err)
		}
		last, _ = CacheKey(cfg)
		// Distinct modification times, so "oldest" is well defined.
		past := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(filepath.Join(dir, last), past, past)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("%d entries, want 3", len(ents))
	}
	if _, err := os.Stat(filepath.Join(dir, last)); err != nil {
		t.Errorf("newest entry evicted: %v", err)
	}
}

func TestCompileCachedUnwritableDir(t *testing.T) {
	// A file where the directory should be: the cache cannot be written,
	// the program is still returned.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	cfg := dockerProfile()
	p, err := CompileCached(cfg, f)
	if err != nil || !reflect.DeepEqual(p, mustCompile(t, cfg)) {
		t.Fatalf("CompileCached with an unusable dir: %v", err)
	}
}

// The profile most containers run with, compiled from scratch.
func BenchmarkCompile(b *testing.B) {
	cfg := dockerProfile()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// The same profile through a warm cache: key, open, read, verify.
func BenchmarkCompileCached(b *testing.B) {
	cfg := dockerProfile()
	dir := b.TempDir()
	if _, err := CompileCached(cfg, dir); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileCached(cfg, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// Both, interleaved in one run, reported as a ratio (machines here are
// noisy; absolute times move between runs).
func BenchmarkCacheSpeedup(b *testing.B) {
	cfg := dockerProfile()
	dir := b.TempDir()
	if _, err := CompileCached(cfg, dir); err != nil {
		b.Fatal(err)
	}
	var compile, cached time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := Compile(cfg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := CompileCached(cfg, dir); err != nil {
			b.Fatal(err)
		}
		compile += t1.Sub(t0)
		cached += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(compile.Microseconds())/n, "compile-µs/op")
	b.ReportMetric(float64(cached.Microseconds())/n, "cached-µs/op")
	b.ReportMetric(float64(compile)/float64(cached), "speedup")
}
