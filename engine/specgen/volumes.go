package specgen

import (
	"path"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ImageVolumes returns the image's VOLUME paths that no mount covers, sorted:
// the anonymous volumes the engine must create (dockerd does so at create).
func ImageVolumes(vols map[string]struct{}, mounts []specs.Mount) []string {
	covered := map[string]bool{}
	for _, m := range mounts {
		covered[path.Clean(m.Destination)] = true
	}
	var out []string
	for v := range vols {
		if v = path.Clean(v); path.IsAbs(v) && !covered[v] {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
