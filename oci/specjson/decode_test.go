package specjson

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/oci/specconv"
)

// fill sets every Linux-relevant field reachable from v: n elements per
// slice and map, strings and numbers derived from seed.
func fill(v reflect.Value, seed int, depth int) {
	if depth > 14 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1, depth+1)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			if p := f.Tag.Get("platform"); p != "" && !strings.Contains(p, "linux") {
				continue
			}
			fill(v.Field(i), seed*7+i, depth+1)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), seed+i, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, seed+i, depth+1)
			m.SetMapIndex(reflect.ValueOf(string(rune('a'+i))+"\u00e9\\\"").Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", seed%5) + "\t\"\u2028")
	case reflect.Bool:
		v.SetBool(seed%2 == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(seed % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed % 200))
	}
}

// same checks that the fast decoder either leaves data to encoding/json or
// gets exactly what encoding/json gets.
func same(t *testing.T, what string, data []byte) (fastTook bool) {
	t.Helper()
	var std specs.Spec
	stdErr := json.Unmarshal(data, &std)
	var fast specs.Spec
	if err := decodeFast(data, &fast); err != nil {
		var via specs.Spec
		if viaErr := Unmarshal(data, &via); (viaErr == nil) != (stdErr == nil) || stdErr == nil && !reflect.DeepEqual(via, std) {
			t.Errorf("%s: Unmarshal differs from encoding/json after fallback", what)
		}
		return false
	}
	if stdErr != nil {
		t.Errorf("%s: fast decoder accepted what encoding/json refuses (%v)", what, stdErr)
		return true
	}
	if !reflect.DeepEqual(fast, std) {
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(std)
		t.Errorf("%s: fast decoder differs from encoding/json\nfast: %s\nstd:  %s", what, a, b)
	}
	return true
}

func TestSameAsEncodingJSON(t *testing.T) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 1, 0)
	fullJSON, err := json.MarshalIndent(&full, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	runcSpec, _ := json.Marshal(specconv.Example())
	rootless := specconv.Example()
	specconv.ToRootless(rootless, 1000, 1000)
	rootlessJSON, _ := json.Marshal(rootless)
	taken := map[string]string{ // must go through the fast decoder
		"every field":  string(fullJSON),
		"runc spec":    string(runcSpec),
		"rootless":     string(rootlessJSON),
		"empty object": `{}`,
		"nulls": `{"ociVersion":null,"process":null,"mounts":null,"annotations":null,
			"linux":{"resources":null,"namespaces":null,"sysctl":null,"uidMappings":null}}`,
		"null scalars":   `{"process":{"terminal":null,"user":{"uid":null,"additionalGids":null},"oomScoreAdj":null}}`,
		"empty slices":   `{"mounts":[],"linux":{"namespaces":[],"maskedPaths":[],"sysctl":{}},"annotations":{}}`,
		"unknown names":  `{"x-vendor":{"a":[1,2,{"b":null}]},"process":{"args":["a"],"extra":true},"linux":{"future":1}}`,
		"escapes":        `{"hostname":"a\u00e9\n\"\\b","process":{"args":["\ud83d\ude00","tab\t"]}}`,
		"big uint64":     `{"linux":{"resources":{"memory":{"limit":9223372036854775807},"cpu":{"shares":18446744073709551615}}}}`,
		"negative int64": `{"linux":{"resources":{"memory":{"swap":-1}}},"process":{"oomScoreAdj":-1000}}`,
		"top-level null": `null`,
	}
	for what, data := range taken {
		if !same(t, what, []byte(data)) {
			t.Errorf("%s: left to encoding/json", what)
		}
	}
	left := map[string]string{ // must be left to encoding/json (and match it)
		"case-folded name": `{"Process":{"args":["a"]}}`,
		"duplicate name":   `{"hostname":"a","hostname":"b"}`,
		"wrong type":       `{"process":{"terminal":"yes"}}`,
		"float for int":    `{"process":{"oomScoreAdj":1.5}}`,
		"exponent":         `{"process":{"oomScoreAdj":1e3}}`,
		"negative uint":    `{"process":{"user":{"uid":-1}}}`,
		"uint32 overflow":  `{"process":{"user":{"uid":4294967296}}}`,
		"invalid UTF-8":    "{\"hostname\":\"\xff\"}",
		"trailing data":    `{} {}`,
		"truncated":        `{"process":{"args":["a"`,
		"windows section":  `{"windows":{"layerFolders":["c"]}}`,
		"array top":        `[]`,
		"object for array": `{"mounts":{}}`,
	}
	for what, data := range left {
		if same(t, what, []byte(data)) {
			t.Errorf("%s: taken by the fast decoder", what)
		}
	}
}

// The bundle configs the runtime-tools validation suite and engines write
// are not at hand; config.json files found on this machine are a bonus.
func TestSameOnFiles(t *testing.T) {
	for _, p := range []string{"/tmp/bb/config.json"} {
		if b, err := os.ReadFile(p); err == nil {
			same(t, p, b)
		}
	}
}

func FuzzSameAsEncodingJSON(f *testing.F) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 3, 0)
	b, _ := json.Marshal(&full)
	f.Add(b)
	rs, _ := json.Marshal(specconv.Example())
	f.Add(rs)
	f.Add([]byte(`{"process":{"user":{"uid":1}},"Linux":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, "fuzz input", data)
	})
}

// decode_gen.go is what the generator makes of the runtime-spec version in
// go.mod: a version bump that adds fields must regenerate it.
func TestGeneratedUpToDate(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to run the generator")
	}
	out := filepath.Join(t.TempDir(), "decode_gen.go")
	cmd := exec.Command("go", "run", "./gen", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("decode_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("decode_gen.go is stale: run go generate ./oci/specjson")
	}
}
