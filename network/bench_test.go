package network

import (
	"context"
	"testing"
)

// BenchmarkAttachDetach measures what `run --rm` pays for networking on
// the default network: namespace, ADD, DEL, namespace removal.
func BenchmarkAttachDetach(b *testing.B) {
	m := newTestManager(b)
	ctx := context.Background()
	if _, err := m.ensureDefault(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := testID(b, "b")
		ns, err := m.NewNetNS(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns}); err != nil {
			b.Fatal(err)
		}
		if err := m.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := RemoveNetNS(ns); err != nil {
			b.Fatal(err)
		}
	}
}
