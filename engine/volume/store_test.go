package volume

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// entries lists <root>/volumes and its lock dir, to check that failures
// leave nothing behind.
func entries(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, d := range []string{s.dir, s.lockDir} {
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Name() != ".locks" {
				out = append(out, filepath.Join(filepath.Base(d), e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out
}

func names(vs []*Volume) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateInspect(t *testing.T) {
	s, root := newStore(t)
	v, err := s.Create("data1", CreateOptions{Labels: map[string]string{"app": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(root, "volumes", "data1", "_data")
	if v.Mountpoint != mp || v.Driver != "local" || v.Scope != "local" || v.Name != "data1" || v.Anonymous {
		t.Fatalf("volume = %+v", v)
	}
	if st, err := os.Stat(mp); err != nil || !st.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	// volume.json has the `docker volume inspect` fields.
	b, err := os.ReadFile(filepath.Join(root, "volumes", "data1", "volume.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Name", "Driver", "Mountpoint", "CreatedAt", "Labels", "Options", "Scope", "Anonymous"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("volume.json lacks %s: %s", k, b)
		}
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(v.CreatedAt) {
		t.Errorf("CreatedAt %q is not RFC 3339", v.CreatedAt)
	}
	got, err := s.Get("data1")
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, v)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) || err.Error() != "get nope: no such volume" {
		t.Fatalf("Get(nope) = %v", err)
	}
	if _, err := s.Get("../volumes"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(../volumes) = %v", err)
	}
}

func TestCreateIdempotent(t *testing.T) {
	s, _ := newStore(t)
	opts := CreateOptions{Labels: map[string]string{"a": "1"}, DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}}
	v1, err := s.Create("same", opts)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v1.Mountpoint, "keep"), []byte("x"), 0o644)
	v2, err := s.Create("same", opts)
	if err != nil || !reflect.DeepEqual(v1, v2) {
		t.Fatalf("second create = %+v, %v", v2, err)
	}
	// No options: the implicit create of `run -v same:/x` gets it as is.
	v3, err := s.Create("same", CreateOptions{})
	if err != nil || !reflect.DeepEqual(v1, v3) {
		t.Fatalf("create without options = %+v, %v", v3, err)
	}
	_, err = s.Create("same", CreateOptions{Labels: map[string]string{"a": "2"}})
	if err == nil || !strings.Contains(err.Error(), "create same: volume already exists with different labels or options") {
		t.Fatalf("create with other labels: %v", err)
	}
	_, err = s.Create("same", CreateOptions{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}})
	if err == nil {
		t.Fatal("create with other options succeeded")
	}
	if _, err := os.Stat(filepath.Join(v1.Mountpoint, "keep")); err != nil {
		t.Fatalf("data lost: %v", err)
	}
}

func TestCreateAnonymous(t *testing.T) {
	s, _ := newStore(t)
	v, err := s.Create("", CreateOptions{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.Name) || !v.Anonymous {
		t.Fatalf("anonymous volume = %+v", v)
	}
	if _, ok := v.Labels[AnonymousLabel]; !ok {
		t.Fatalf("labels = %v", v.Labels)
	}
	w, err := s.Create("", CreateOptions{})
	if err != nil || w.Name == v.Name || w.Anonymous {
		t.Fatalf("second unnamed volume = %+v, %v", w, err)
	}
}

func TestCreateErrors(t *testing.T) {
	s, _ := newStore(t)
	bad := map[string]string{
		"a":       "create a: volume name is too short, names should be at least two alphanumeric characters",
		"-ab":     `create -ab: "-ab" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
		"a/b":     `"a/b" includes invalid characters`,
		"..":      `".." includes invalid characters`,
		".hidden": `".hidden" includes invalid characters`,
		"sp ace":  `"sp ace" includes invalid characters`,
	}
	for name, want := range bad {
		_, err := s.Create(name, CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Create(%q) = %v, want %q", name, err, want)
		}
	}
	badOpts := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"foo": "bar"}, `create v1: invalid option: "foo"`},
		{map[string]string{"type": "tmpfs"}, `missing required option: "device"`},
		{map[string]string{"o": "bind"}, `missing required option: "device"`},
		{map[string]string{"size": "10m"}, "quota size requested but no quota support"},
		{map[string]string{"size": "big"}, "invalid size: 'big'"},
		{map[string]string{"device": ""}, "missing device in volume options"},
	}
	for _, tc := range badOpts {
		_, err := s.Create("v1", CreateOptions{DriverOpts: tc.opts})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(v1, %v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
	if e := entries(t, s); len(e) != 0 {
		t.Fatalf("failed creates left %v", e)
	}
}

func TestConcurrentCreate(t *testing.T) {
	s, _ := newStore(t)
	const n = 20
	vols := make([]*Volume, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens its own store, like separate commands.
			st, err := Open(filepath.Dir(s.dir))
			if err != nil {
				errs[i] = err
				return
			}
			vols[i], errs[i] = st.Create("shared", CreateOptions{Labels: map[string]string{"k": "v"}})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(vols[i], vols[0]) {
			t.Fatalf("create %d = %+v, create 0 = %+v", i, vols[i], vols[0])
		}
	}
	if e := entries(t, s); !reflect.DeepEqual(e, []string{".locks/shared", "volumes/shared"}) {
		t.Fatalf("store holds %v", e)
	}
}

func TestListFilters(t *testing.T) {
	s, _ := newStore(t)
	mk := func(name string, labels map[string]string) {
		if _, err := s.Create(name, CreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	mk("web-data", map[string]string{"app": "web", "tier": "front"})
	mk("web-logs", map[string]string{"app": "web"})
	mk("db-data", map[string]string{"app": "db"})
	mk("scratch", nil)
	users := Users{"db-data": {"c1"}, "web-logs": {"c2", "c3"}}
	tests := []struct {
		f    Filters
		want []string
	}{
		{nil, []string{"db-data", "scratch", "web-data", "web-logs"}},
		{Filters{"name": {"web"}}, []string{"web-data", "web-logs"}},
		{Filters{"name": {"^db", "scratch"}}, []string{"db-data", "scratch"}},
		{Filters{"name": {"data$"}}, []string{"db-data", "web-data"}},
		{Filters{"label": {"app"}}, []string{"db-data", "web-data", "web-logs"}},
		{Filters{"label": {"app=web"}}, []string{"web-data", "web-logs"}},
		{Filters{"label": {"app=web", "tier=front"}}, []string{"web-data"}},
		{Filters{"label!": {"app=web"}}, []string{"db-data", "scratch"}},
		{Filters{"dangling": {"true"}}, []string{"scratch", "web-data"}},
		{Filters{"dangling": {"0"}}, []string{"db-data", "web-logs"}},
		{Filters{"driver": {"local"}, "label": {"app=db"}}, []string{"db-data"}},
		{Filters{"driver": {"nfs"}}, []string{}},
	}
	for _, tc := range tests {
		vs, err := s.List(tc.f, users)
		if err != nil {
			t.Errorf("List(%v): %v", tc.f, err)
			continue
		}
		if got := names(vs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	if _, err := s.List(Filters{"colour": {"red"}}, nil); err == nil || err.Error() != "invalid filter 'colour'" {
		t.Errorf("unknown filter: %v", err)
	}
	if _, err := s.List(Filters{"dangling": {"maybe"}}, nil); err == nil || err.Error() != "invalid filter 'dangling=maybe'" {
		t.Errorf("bad dangling: %v", err)
	}
}

func TestRemove(t *testing.T) {
	s, _ := newStore(t)
	v, err := s.Create("busy", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(v.Mountpoint, "a/b"), 0o755)
	os.WriteFile(filepath.Join(v.Mountpoint, "a/b/f"), []byte("x"), 0o644)
	users := Users{"busy": {"abc123", "def456"}}
	err = s.Remove("busy", true, users)
	if !errors.Is(err, ErrInUse) || err.Error() != "remove busy: volume is in use - [abc123, def456]" {
		t.Fatalf("remove in use = %v", err)
	}
	if _, err := s.Get("busy"); err != nil {
		t.Fatalf("in-use volume gone: %v", err)
	}
	if err := s.Remove("busy", false, Users{"other": {"x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("busy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after remove: %v", err)
	}
	err = s.Remove("busy", false, nil)
	if !errors.Is(err, ErrNotFound) || err.Error() != "get busy: no such volume" {
		t.Fatalf("remove missing = %v", err)
	}
	if err := s.Remove("busy", true, nil); err != nil {
		t.Fatalf("forced remove of missing volume: %v", err)
	}
	if err := s.Remove("../../etc", true, nil); err != nil {
		t.Fatalf("forced remove of a bad name: %v", err)
	}
	if e := entries(t, s); len(e) != 0 {
		t.Fatalf("remove left %v", e)
	}
	// Recreate after remove starts empty.
	v, err = s.Create("busy", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if empty, _ := isEmptyDir(v.Mountpoint); !empty {
		t.Fatal("recreated volume is not empty")
	}
}

func TestPrune(t *testing.T) {
	s, _ := newStore(t)
	anon1, _ := s.Create("", CreateOptions{Anonymous: true})
	anon2, _ := s.Create("", CreateOptions{Anonymous: true, Labels: map[string]string{"keep": "yes"}})
	anonUsed, _ := s.Create("", CreateOptions{Anonymous: true})
	s.Create("named", CreateOptions{})
	s.Create("named-used", CreateOptions{})
	s.Create("named-lbl", CreateOptions{Labels: map[string]string{"env": "test"}})
	os.WriteFile(filepath.Join(anon1.Mountpoint, "f"), make([]byte, 1000), 0o644)
	os.WriteFile(filepath.Join(anon2.Mountpoint, "g"), make([]byte, 500), 0o644)
	users := Users{anonUsed.Name: {"c1"}, "named-used": {"c2"}}

	removed, reclaimed, err := s.Prune(users, Filters{"label!": {"keep"}})
	if err != nil || !reflect.DeepEqual(removed, []string{anon1.Name}) || reclaimed != 1000 {
		t.Fatalf("prune label! = %v, %d, %v", removed, reclaimed, err)
	}
	removed, reclaimed, err = s.Prune(users, nil)
	if err != nil || !reflect.DeepEqual(removed, []string{anon2.Name}) || reclaimed != 500 {
		t.Fatalf("prune = %v, %d, %v", removed, reclaimed, err)
	}
	removed, _, err = s.Prune(users, Filters{"all": {"true"}, "label": {"env=test"}})
	if err != nil || !reflect.DeepEqual(removed, []string{"named-lbl"}) {
		t.Fatalf("prune all+label = %v, %v", removed, err)
	}
	removed, _, err = s.Prune(users, Filters{"all": {"1"}})
	if err != nil || !reflect.DeepEqual(removed, []string{"named"}) {
		t.Fatalf("prune all = %v, %v", removed, err)
	}
	vs, _ := s.List(nil, nil)
	want := []string{anonUsed.Name, "named-used"}
	sort.Strings(want)
	if got := names(vs); !reflect.DeepEqual(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if _, _, err := s.Prune(nil, Filters{"dangling": {"true"}}); err == nil || err.Error() != "invalid filter 'dangling'" {
		t.Fatalf("prune bad filter: %v", err)
	}
	if _, _, err := s.Prune(nil, Filters{"all": {"yes"}}); err == nil || err.Error() != "invalid filter 'all=yes'" {
		t.Fatalf("prune bad all: %v", err)
	}
}

func TestSize(t *testing.T) {
	s, _ := newStore(t)
	v, _ := s.Create("sized", CreateOptions{})
	os.MkdirAll(filepath.Join(v.Mountpoint, "d"), 0o755)
	os.WriteFile(filepath.Join(v.Mountpoint, "a"), make([]byte, 100), 0o644)
	os.WriteFile(filepath.Join(v.Mountpoint, "d/b"), make([]byte, 23), 0o644)
	os.Link(filepath.Join(v.Mountpoint, "a"), filepath.Join(v.Mountpoint, "d/a-link"))
	os.Symlink("abc", filepath.Join(v.Mountpoint, "sym")) // 3 bytes, as du counts
	n, err := s.Size("sized")
	if err != nil || n != 126 {
		t.Fatalf("Size = %d, %v; want 126", n, err)
	}
	if _, err := s.Size("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Size(missing) = %v", err)
	}
}

// A directory in Docker's layout without volume.json reads as a volume.
func TestDockerLayoutCompat(t *testing.T) {
	s, root := newStore(t)
	if err := os.MkdirAll(filepath.Join(root, "volumes", "legacy", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get("legacy")
	if err != nil || v.Driver != "local" || v.Name != "legacy" {
		t.Fatalf("Get(legacy) = %+v, %v", v, err)
	}
	if err := s.Remove("legacy", false, nil); err != nil {
		t.Fatal(err)
	}
}

// Creates and removes of one name racing from several stores never leave
// a half volume, temp or trash dirs, or an error other than "no such
// volume".
func TestConcurrentCreateRemove(t *testing.T) {
	s, _ := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := Open(filepath.Dir(s.dir))
			if err != nil {
				errs <- err
				return
			}
			for range 25 {
				if i%2 == 0 {
					v, err := st.Create("racy", CreateOptions{})
					if err != nil {
						errs <- err
						return
					}
					if v.Name != "racy" {
						errs <- errors.New("wrong volume")
						return
					}
				} else if err := st.Remove("racy", false, nil); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e := entries(t, s)
	if len(e) != 0 && strings.Join(e, " ") != ".locks/racy volumes/racy" {
		t.Fatalf("store holds %v", e)
	}
	if len(e) != 0 {
		if _, err := os.Stat(filepath.Join(s.dir, "racy", "_data")); err != nil {
			t.Fatalf("half volume: %v", err)
		}
	}
}
