package specjson

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mutations of a spec with every field set (bytes changed, dropped,
// inserted) decode as encoding/json decodes them, whichever decoder takes
// them. Deterministic, unlike the fuzz target, so it runs in every go test.
func TestMutationsSameAsEncodingJSON(t *testing.T) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 3, 0)
	seed, _ := json.Marshal(&full)
	r := rand.New(rand.NewSource(1))
	taken := 0
	for i := 0; i < 4000; i++ {
		b := append([]byte(nil), seed...)
		for k := 0; k < 1+r.Intn(3); k++ {
			p := r.Intn(len(b))
			switch r.Intn(3) {
			case 0:
				b[p] = byte(r.Intn(256))
			case 1:
				b = append(b[:p], b[p+1:]...)
			case 2:
				b = append(b[:p], append([]byte{"{}[],:\"0n-1"[r.Intn(11)]}, b[p:]...)...)
			}
		}
		if same(t, "mutation", b) {
			taken++
		}
		if t.Failed() {
			t.Fatalf("input: %q", b)
		}
	}
	if taken == 0 {
		t.Fatal("the fast decoder took no mutation")
	}
	t.Logf("%d of 4000 mutations decoded by the fast path", taken)
}
