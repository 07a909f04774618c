package specgen

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/berth-dev/berth/oci/caps"
)

// AllCaps returns the capabilities a privileged container gets: every one
// the caller holds (Docker uses its own effective set, so a host without
// CAP_SYS_RESOURCE gives containers none either). The slice is the
// caller's to keep.
func AllCaps() []string { return slices.Clone(allCaps()) }

var allCaps = sync.OnceValue(func() []string {
	if cur, err := caps.Current(0); err == nil {
		return cur.Effective.List()
	}
	var out []string
	for _, n := range caps.Names() {
		if c, err := caps.Parse(n); err == nil && c <= caps.Last() {
			out = append(out, n)
		}
	}
	return out
})

// normalizeCaps upper-cases names, adds the CAP_ prefix and checks each
// exists (and is available here); "ALL" passes through.
func normalizeCaps(field string, list []string) ([]string, error) {
	var out []string
	for _, c := range list {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if _, err := caps.Parse(c); err != nil {
			return nil, fmt.Errorf("%s: unknown capability: %q", field, c)
		}
		if !slices.Contains(allCaps(), c) {
			return nil, fmt.Errorf("%s: capability not supported by your kernel or not available in the current environment: %q", field, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// Capabilities is moby's TweakCapabilities over Docker's defaults:
// privileged gets all; --cap-add ALL gives all but the dropped ones;
// --cap-drop ALL keeps only the added ones; otherwise drop, then add.
func Capabilities(add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return AllCaps(), nil
	}
	base := DefaultCapabilities()
	if len(add) == 0 && len(drop) == 0 {
		return base, nil
	}
	d, err := normalizeCaps("--cap-drop", drop)
	if err != nil {
		return nil, err
	}
	a, err := normalizeCaps("--cap-add", add)
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case slices.Contains(a, "ALL"):
		for _, c := range allCaps() {
			if !slices.Contains(d, c) {
				out = append(out, c)
			}
		}
	case slices.Contains(d, "ALL"):
		out = a
	default:
		for _, c := range base {
			if !slices.Contains(d, c) {
				out = append(out, c)
			}
		}
		out = append(out, a...)
	}
	return dedupe(out), nil
}

func dedupe(list []string) []string {
	out := []string{}
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
