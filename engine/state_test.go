package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEngine(t *testing.T) *Engine {
	t.Helper()
	dir := t.TempDir()
	e, err := New(Options{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Exe: "/bin/true", Runtime: "/bin/false"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// record writes a container record as a command would have left it.
func record(t *testing.T, e *Engine, status, name string) *Container {
	t.Helper()
	c := &Container{ID: newID(), Name: name, Created: time.Now(), State: State{Status: status, CleanedUp: true}}
	if err := os.MkdirAll(e.containerDir(c.ID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := e.save(c); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		if err := e.claimName(name, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestNames(t *testing.T) {
	e := testEngine(t)
	a := record(t, e, StatusCreated, "web")
	if err := e.claimName("web", newID()); !errors.Is(err, ErrNameUsed) || !strings.Contains(err.Error(), a.ID) {
		t.Fatalf("second claim of a used name: %v", err)
	}
	if err := e.claimName("bad/name", newID()); err == nil || !strings.Contains(err.Error(), "invalid container name") {
		t.Fatalf("bad name: %v", err)
	}
	// a name whose container never got a record (a killed create) is free
	ghost := newID()
	if err := os.Symlink(ghost, filepath.Join(e.namesDir(), "ghost")); err != nil {
		t.Fatal(err)
	}
	id := newID()
	if err := e.claimName("ghost", id); err != nil {
		t.Fatalf("stale name not taken over: %v", err)
	}
	if got, _ := os.Readlink(filepath.Join(e.namesDir(), "ghost")); got != id {
		t.Fatalf("ghost points at %s, want %s", got, id)
	}
	// ... unless its create is still at work (holds the lock)
	busy := newID()
	unlock, err := e.lock(busy)
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(busy, filepath.Join(e.namesDir(), "busy"))
	if err := e.claimName("busy", newID()); !errors.Is(err, ErrNameUsed) {
		t.Fatalf("name of a create in progress taken: %v", err)
	}
	unlock()
	// Resolve: full id, name, unique prefix; ambiguity named
	for _, ref := range []string{a.ID, "web", "/web", a.ID[:8]} {
		if got, err := e.Resolve(ref); err != nil || got != a.ID {
			t.Fatalf("Resolve(%q) = %q, %v", ref, got, err)
		}
	}
	if _, err := e.Resolve("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve of a missing name: %v", err)
	}
}

func TestRepairOfKilledCommands(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	// a create killed after its first save: the next look removes it all
	c := record(t, e, statusCreating, "half")
	if _, err := e.Get(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an interrupted create: %v", err)
	}
	if _, err := os.Stat(e.containerDir(c.ID)); !os.IsNotExist(err) {
		t.Fatalf("container dir left: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(e.namesDir(), "half")); !os.IsNotExist(err) {
		t.Fatalf("name left: %v", err)
	}
	// a start killed half way: back to a startable state, error recorded
	s := record(t, e, statusStarting, "")
	got, err := e.Get(ctx, s.ID)
	if err != nil || got.State.Status != StatusCreated || got.State.Error == "" {
		t.Fatalf("after an interrupted start: %+v, %v", got, err)
	}
	// a create in progress elsewhere (lock held) is reported, not touched
	p := record(t, e, statusCreating, "")
	unlock, err := e.lock(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.Get(ctx, p.ID); err != nil || got.State.Status != StatusCreated {
		t.Fatalf("create in progress: %+v, %v", got, err)
	}
	unlock()
	// a container dir without a record (killed between mkdir and save)
	// goes with the next listing
	orphan := newID()
	os.MkdirAll(e.containerDir(orphan), 0o700)
	list, err := e.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == orphan {
			t.Fatalf("orphan listed")
		}
	}
	if _, err := os.Stat(e.containerDir(orphan)); !os.IsNotExist(err) {
		t.Fatalf("orphan dir left: %v", err)
	}
}

func TestRecordIsReplacedAtomically(t *testing.T) {
	e := testEngine(t)
	c := record(t, e, StatusCreated, "")
	c.Config.Labels = map[string]string{"k": "v"}
	if err := e.save(c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.recordPath(c.ID) + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp record left: %v", err)
	}
	got, err := e.read(c.ID)
	if err != nil || got.Config.Labels["k"] != "v" {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	os.WriteFile(e.recordPath(c.ID), []byte("{not json"), 0o600)
	if _, err := e.read(c.ID); err == nil || !strings.Contains(err.Error(), e.recordPath(c.ID)) {
		t.Fatalf("a corrupt record's error does not name the file: %v", err)
	}
}
