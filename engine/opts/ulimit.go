package opts

import (
	"math"
	"strings"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseUlimit parses a --ulimit value "name=soft[:hard]" (hard defaults to
// soft; -1 is unlimited) into an OCI rlimit, e.g. nofile=1024:2048 →
// {RLIMIT_NOFILE 1024 2048}. Names and checks are go-units' (Docker's):
// core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio
// rttime sigpending stack, soft <= hard.
func ParseUlimit(spec string) (specs.POSIXRlimit, error) {
	u, err := units.ParseUlimit(spec)
	if err != nil {
		return specs.POSIXRlimit{}, flagErr(flagUlimit, spec, err)
	}
	return specs.POSIXRlimit{
		Type: "RLIMIT_" + strings.ToUpper(u.Name),
		Soft: rlimitValue(u.Soft),
		Hard: rlimitValue(u.Hard),
	}, nil
}

// rlimitValue maps Docker's -1 (unlimited) to RLIM_INFINITY.
func rlimitValue(v int64) uint64 {
	if v < 0 {
		return math.MaxUint64
	}
	return uint64(v)
}
