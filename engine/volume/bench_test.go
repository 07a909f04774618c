package volume

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
)

func BenchmarkCreateRemove(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		name := "v" + strconv.Itoa(i)
		if _, err := s.Create(name, CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(name, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList100(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if _, err := s.Create("v"+strconv.Itoa(i), CreateOptions{Labels: map[string]string{"i": strconv.Itoa(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if vs, err := s.List(Filters{"label": {"i=5"}}, nil); err != nil || len(vs) != 1 {
			b.Fatal(len(vs), err)
		}
	}
}

// BenchmarkCopyUpBin copies a busybox rootfs's /bin (hundreds of hard
// links to one binary, as Docker images often have).
func BenchmarkCopyUpBin(b *testing.B) {
	testutil.RequireRoot(b)
	rootfs := testutil.BusyboxRootfs(b, b.TempDir())
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		dst := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(dst, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := CopyUp(rootfs, "/bin", dst); err != nil {
			b.Fatal(err)
		}
	}
}
