package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/opts"
)

// validName: container names follow Docker's rule.
func validName(n string) bool { return opts.RestrictedName(n) }

// claimName binds name to id. The symlink is created atomically, so two
// commands racing for one name cannot both win.
func (e *Engine) claimName(name, id string) error {
	if !validName(name) {
		return fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	p := filepath.Join(e.namesDir(), name)
	err := os.Symlink(id, p)
	if errors.Is(err, os.ErrExist) {
		err = e.takeOverName(p, id)
	}
	if errors.Is(err, os.ErrExist) {
		old, _ := os.Readlink(p)
		return fmt.Errorf("%w: the container name \"/%s\" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", ErrNameUsed, name, old)
	}
	if err != nil {
		return fmt.Errorf("claim name %s: %w", name, err)
	}
	return nil
}

// takeOverName claims the name at p if its container's record is gone (a
// create killed before it wrote one): under the names lock, so that two
// commands taking over the same stale name cannot both win.
func (e *Engine) takeOverName(p, id string) error {
	old, err := os.Readlink(p)
	if err != nil || old == id {
		return os.ErrExist
	}
	if _, serr := os.Stat(e.recordPath(old)); !errors.Is(serr, os.ErrNotExist) || !e.lockFree(old) {
		return os.ErrExist
	}
	unlock, err := flockPath(filepath.Join(e.namesDir(), ".lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if again, err := os.Readlink(p); err != nil || again != old {
		return os.ErrExist // somebody else took it meanwhile
	}
	os.Remove(p)
	e.dropLock(old)
	return os.Symlink(id, p)
}

// releaseName drops name if it still points at id.
func (e *Engine) releaseName(name, id string) {
	p := filepath.Join(e.namesDir(), name)
	if old, err := os.Readlink(p); err == nil && old == id {
		os.Remove(p)
	}
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Docker-style generated names: adjective_scientist.
var (
	adjectives = []string{"admiring", "agitated", "amazing", "bold", "brave", "busy", "calm", "charming", "clever", "cool", "dazzling", "eager", "elastic", "epic", "festive", "focused", "friendly", "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "laughing", "lucid", "modest", "nice", "optimistic", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet", "tender", "trusting", "vibrant", "wizardly", "youthful", "zealous"}
	surnames   = []string{"albattani", "archimedes", "babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermat", "feynman", "galileo", "gauss", "hamilton", "hopper", "hypatia", "kepler", "knuth", "lamport", "lovelace", "maxwell", "mccarthy", "newton", "noether", "pascal", "pike", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing", "wozniak", "yonath"}
)

func randomName(try int) string {
	a, _ := rand.Int(rand.Reader, big.NewInt(int64(len(adjectives))))
	s, _ := rand.Int(rand.Reader, big.NewInt(int64(len(surnames))))
	n := adjectives[a.Int64()] + "_" + surnames[s.Int64()]
	if try > 0 {
		n = fmt.Sprintf("%s%d", n, try)
	}
	return n
}
