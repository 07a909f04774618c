package specgen

import (
	"fmt"
	"os"
	"os/exec"
)

// initCandidates are the init binaries --init can use, best first: all
// take "init -- prog args..." like Docker's docker-init (tini).
var initCandidates = []string{
	"/usr/bin/catatonit",
	"/usr/libexec/podman/catatonit",
	"/usr/bin/docker-init",
	"/usr/bin/tini-static",
	"/usr/bin/tini",
}

// FindInit returns the host path of an init binary for --init.
func FindInit() (string, error) {
	for _, p := range initCandidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	for _, n := range []string{"catatonit", "docker-init", "tini"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("--init: no init binary found (looked for %v and catatonit, docker-init, tini in PATH; apt-get install catatonit)", initCandidates)
}

func checkInit(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("init binary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("init binary %s: not an executable file", p)
	}
	return nil
}
