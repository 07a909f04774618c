package layer

import (
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
)

// DiffIDError is returned at the end of a layer whose uncompressed content
// does not have the DiffID the image config promised.
type DiffIDError struct {
	Want, Got digest.Digest
	Size      int64
}

func (e *DiffIDError) Error() string {
	return fmt.Sprintf("layer diff_id mismatch: want %s, got %s (%d bytes)", e.Want, e.Got, e.Size)
}

// VerifyDiffID returns a reader of r that hashes what passes through and,
// at EOF, returns a *DiffIDError instead of io.EOF if the digest is not
// want. Apply and the EROFS converter read layers to EOF, so an unpack of a
// tampered layer fails (the caller then removes the snapshot).
func VerifyDiffID(r io.Reader, want digest.Digest) (io.Reader, error) {
	if err := want.Validate(); err != nil {
		return nil, fmt.Errorf("diff_id %q: %w", want, err)
	}
	return &verifier{r: r, want: want, h: want.Algorithm().Hash()}, nil
}

type verifier struct {
	r    io.Reader
	want digest.Digest
	h    hash.Hash
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := digest.NewDigest(v.want.Algorithm(), v.h); got != v.want {
			return n, &DiffIDError{Want: v.want, Got: got, Size: v.n}
		}
	}
	return n, err
}
