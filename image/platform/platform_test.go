package platform

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseMatch(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"linux/amd64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"linux/aarch64", "linux/arm64/v8"},
		{"linux/arm64", "linux/arm64/v8"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/arm/6", "linux/arm/v6"},
		{"Linux/AMD64", "linux/amd64"},
	} {
		p, err := Parse(tc.in)
		if err != nil || Format(p) != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, Format(p), err, tc.want)
		}
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	arm64 := &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	if !Match(ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, arm64) {
		t.Error("arm64/v8 should match arm64 without variant")
	}
	if Match(Default(), nil) || Match(ocispec.Platform{OS: "linux", Architecture: "amd64"}, arm64) {
		t.Error("mismatch matched")
	}
}

func TestSelect(t *testing.T) {
	amd := ocispec.Descriptor{Digest: "sha256:a", Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	arm := ocispec.Descriptor{Digest: "sha256:b", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64"}}
	bare := ocispec.Descriptor{Digest: "sha256:c"}
	want := ocispec.Platform{OS: "linux", Architecture: "arm64"}
	if d, ok := Select([]ocispec.Descriptor{amd, arm}, want, nil); !ok || d.Digest != arm.Digest {
		t.Errorf("Select = %v %v", d, ok)
	}
	if _, ok := Select([]ocispec.Descriptor{amd, arm}, want, func(d ocispec.Descriptor) bool { return d.Digest != arm.Digest }); ok {
		t.Error("Select took an unusable entry")
	}
	if d, ok := Select([]ocispec.Descriptor{bare}, want, nil); !ok || d.Digest != bare.Digest {
		t.Error("a lone entry without platform should be taken")
	}
	if _, ok := Select([]ocispec.Descriptor{bare, amd}, want, nil); ok {
		t.Error("matched nothing but selected")
	}
	if l := List([]ocispec.Descriptor{amd, bare, arm}); len(l) != 2 || l[1] != "linux/arm64/v8" {
		t.Errorf("List = %v", l)
	}
}
