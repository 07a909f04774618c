package specgen

import (
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseUlimit parses a --ulimit value, "name=soft[:hard]" (-1 unlimited),
// with Docker's parser.
func ParseUlimit(v string) (specs.POSIXRlimit, error) {
	u, err := units.ParseUlimit(v)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: %w", v, err)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)}, nil
}
