package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Event is one entry of the event log, in Docker's event message shape.
type Event struct {
	Type     string `json:"Type"`   // container, image, volume, network
	Action   string `json:"Action"` // create, start, die, stop, kill, destroy, pause, unpause, rename, exec_start...
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor names what the event is about.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

func (e *Engine) eventsPath() string { return filepath.Join(e.root, "events.jsonl") }

// maxEventLog is when the log is cut to its newer half.
const maxEventLog = 4 << 20

// emit appends an event. One write(2) of one line with O_APPEND: lines of
// concurrent commands never interleave. Failures are ignored: events are
// a view, not state.
func (e *Engine) emit(typ, action string, c *Container, attrs map[string]string) {
	now := time.Now()
	a := map[string]string{}
	id := ""
	if c != nil {
		id = c.ID
		a["name"] = c.Name
		a["image"] = c.Image
		for k, v := range c.Config.Labels {
			a[k] = v
		}
	}
	for k, v := range attrs {
		a[k] = v
	}
	ev := Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: a}, Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(e.eventsPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	if fi, err := f.Stat(); err == nil && fi.Size() > maxEventLog {
		e.trimEvents()
	}
	f.Close()
}

// trimEvents keeps the newer half of the log (rename keeps readers safe).
func (e *Engine) trimEvents() {
	b, err := os.ReadFile(e.eventsPath())
	if err != nil || len(b) < maxEventLog {
		return
	}
	b = b[len(b)/2:]
	if i := indexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	tmp := e.eventsPath() + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		os.Rename(tmp, e.eventsPath())
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Emit lets other layers (images, volumes, networks) log their events.
func (e *Engine) Emit(typ, action, id string, attrs map[string]string) {
	ev := &Container{ID: id}
	if n, ok := attrs["name"]; ok {
		ev.Name = n
	}
	e.emit(typ, action, ev, attrs)
}

// Events calls fn for each event between since and until (zero: no bound);
// with follow it keeps reading new events until ctx ends or until passes.
func (e *Engine) Events(ctx context.Context, since, until time.Time, follow bool, fn func(Event) error) error {
	f, err := os.Open(e.eventsPath())
	if errors.Is(err, os.ErrNotExist) {
		if !follow {
			return nil
		}
		os.WriteFile(e.eventsPath(), nil, 0o600)
		f, err = os.Open(e.eventsPath())
	}
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = append(partial, line...)
			partial = nil
			var ev Event
			if json.Unmarshal(line, &ev) == nil {
				t := time.Unix(0, ev.TimeNano)
				if !until.IsZero() && t.After(until) {
					return nil
				}
				if since.IsZero() && follow || t.Before(since) {
					// With follow and no --since, only new events show.
				} else if err := fn(ev); err != nil {
					return err
				}
			}
			continue
		}
		partial = append(partial, line...)
		if err != nil && err != io.EOF {
			return err
		}
		if !follow {
			return nil
		}
		if since.IsZero() {
			since = time.Unix(0, 1) // from here on, everything new shows
		}
		if !until.IsZero() && time.Now().After(until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		// The log was trimmed (renamed): reopen and skip what was seen.
		if fi, err := os.Stat(e.eventsPath()); err == nil {
			if cur, err := f.Stat(); err == nil && !os.SameFile(fi, cur) {
				f.Close()
				if f, err = os.Open(e.eventsPath()); err != nil {
					return err
				}
				r = bufio.NewReader(f)
				since = time.Now()
			}
		}
	}
}
