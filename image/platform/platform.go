package platform

import (
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Default is the host's platform: what a pull selects unless told otherwise.
func Default() ocispec.Platform {
	return Normalize(ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH})
}

// Parse reads "os/arch[/variant]" (e.g. "linux/arm64/v8", "linux/amd64").
func Parse(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 2:
		p.OS, p.Architecture = parts[0], parts[1]
	case 3:
		p.OS, p.Architecture, p.Variant = parts[0], parts[1], parts[2]
	default:
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	return Normalize(p), nil
}

// Normalize lower-cases and applies the usual aliases (aarch64 → arm64,
// x86_64 → amd64) and default variants (arm64 → v8, arm → v7).
func Normalize(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "i386":
		p.Architecture = "386"
	}
	switch {
	case p.Architecture == "arm64" && p.Variant == "8":
		p.Variant = "v8"
	case p.Architecture == "arm64" && p.Variant == "":
		p.Variant = "v8"
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	case p.Architecture == "arm" && len(p.Variant) == 1:
		p.Variant = "v" + p.Variant
	}
	return p
}

// Match reports whether an index entry's platform (have) satisfies want.
// OS and architecture must be equal; the variant must be equal once both are
// normalised. An entry without a platform matches nothing.
func Match(want ocispec.Platform, have *ocispec.Platform) bool {
	if have == nil {
		return false
	}
	w, h := Normalize(want), Normalize(*have)
	return w.OS == h.OS && w.Architecture == h.Architecture && w.Variant == h.Variant
}

// Format is the inverse of Parse.
func Format(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Select picks want's entry from an index's manifests: the first whose
// platform matches and for which usable (if not nil) says yes. An index of
// exactly one entry that carries no platform at all (some tools write
// those) yields that entry. ok is false when nothing fits.
func Select(entries []ocispec.Descriptor, want ocispec.Platform, usable func(ocispec.Descriptor) bool) (ocispec.Descriptor, bool) {
	for _, e := range entries {
		if Match(want, e.Platform) && (usable == nil || usable(e)) {
			return e, true
		}
	}
	if len(entries) == 1 && entries[0].Platform == nil && (usable == nil || usable(entries[0])) {
		return entries[0], true
	}
	return ocispec.Descriptor{}, false
}

// List formats the platforms an index offers, for error messages.
func List(entries []ocispec.Descriptor) []string {
	var out []string
	for _, e := range entries {
		if e.Platform != nil {
			out = append(out, Format(Normalize(*e.Platform)))
		}
	}
	return out
}
