package registry

import (
	"sync"

	"github.com/opencontainers/go-digest"
)

// State is where one blob is in a pull or push.
type State string

const (
	StateWaiting     State = "waiting"     // queued behind other transfers
	StateDownloading State = "downloading" // bytes arriving; Current/Total
	StateRetrying    State = "retrying"    // the stream broke; resuming
	StateExists      State = "exists"      // already in the store
	StateDone        State = "done"        // verified and stored
	StateFailed      State = "failed"      // Err says why
	StatePushing     State = "pushing"     // push: Current/Total over the whole image
)

// Progress is one event about one blob. The CLI keys its lines by Digest.
type Progress struct {
	Digest    digest.Digest
	MediaType string
	Kind      string // "config", "layer", "manifest" or "image" (push)
	State     State
	Current   int64
	Total     int64
	Err       error
}

// reporter serialises calls to the user's callback.
type reporter struct {
	mu sync.Mutex
	fn func(Progress)
}

func (r *reporter) report(p Progress) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(p)
}
