package store

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned (wrapped) for a missing blob or image.
var ErrNotFound = errors.New("not found")

// VerifyError reports content whose digest or size is not what its
// descriptor promised. Nothing is stored when it is returned.
type VerifyError struct {
	Want     digest.Digest
	Got      digest.Digest // empty if the size was already wrong
	WantSize int64
	GotSize  int64 // bytes read; WantSize+1 means "more than expected"
}

func (e *VerifyError) Error() string {
	if e.GotSize != e.WantSize {
		if e.GotSize > e.WantSize {
			return fmt.Sprintf("blob %s: size mismatch: want %d bytes, got more", e.Want, e.WantSize)
		}
		return fmt.Sprintf("blob %s: size mismatch: want %d bytes, got %d (truncated)", e.Want, e.WantSize, e.GotSize)
	}
	return fmt.Sprintf("blob %s: digest mismatch: got %s (%d bytes)", e.Want, e.Got, e.GotSize)
}
