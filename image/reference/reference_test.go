package reference

import (
	"errors"
	"strings"
	"testing"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want, familiar string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"user/app", "docker.io/user/app:latest", "user/app:latest"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app:v1"},
		{"host:5000/a/b@sha256:" + hex64, "host:5000/a/b@sha256:" + hex64, "host:5000/a/b@sha256:" + hex64},
		{"host:5000/a/b:t@sha256:" + hex64, "host:5000/a/b:t@sha256:" + hex64, "host:5000/a/b:t@sha256:" + hex64},
		{"quay.io/a/b/c:v1.2-rc_3", "quay.io/a/b/c:v1.2-rc_3", "quay.io/a/b/c:v1.2-rc_3"},
		{"127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"},
		{"[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"},
		{"a-b.c/d__e.f-g", "a-b.c/d__e.f-g:latest", "a-b.c/d__e.f-g:latest"},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64, "busybox@sha256:" + hex64},
	} {
		r, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := r.String(); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := r.Familiar(); got != tc.familiar {
			t.Errorf("Parse(%q).Familiar() = %q, want %q", tc.in, got, tc.familiar)
		}
		// Normalisation is idempotent.
		r2, err := Parse(r.String())
		if err != nil || r2 != r {
			t.Errorf("Parse(Parse(%q).String()) = %v, %v; want %v", tc.in, r2, err, r)
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"", "empty"},
		{" busybox", "white space"},
		{"Busybox", "lowercase"},
		{"docker.io/Library/busybox", "lowercase"},
		{"busybox:", "tag"},
		{"busybox:-x", "tag"},
		{"busybox:" + strings.Repeat("a", 129), "tag"},
		{"busybox@sha256:abc", "digest"},
		{"busybox@md5:" + hex64, "digest"},
		{hex64, "image ID"},
		{"a//b", "empty path component"},
		{"a/b/", "empty path component"},
		{"host:5000/", "missing repository"},
		{":tag", "missing repository"},
		{"bad_host.io:x/a", "registry"},
		{"a/-b", "path component"},
		{"a/b..c", "path component"},
		{"a/" + strings.Repeat("b", 300), "characters long"},
	} {
		_, err := Parse(tc.in)
		var bad *ErrBadReference
		if !errors.As(err, &bad) {
			t.Errorf("Parse(%q) = %v, want *ErrBadReference", tc.in, err)
			continue
		}
		if !errors.Is(err, ErrInvalid) || bad.Input != tc.in || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("Parse(%q) error %q: want input named and reason containing %q", tc.in, err, tc.reason)
		}
	}
}

func TestHelpers(t *testing.T) {
	r := MustParse("host:5000/a/b:t")
	if r.Identifier() != "t" || r.Name() != "host:5000/a/b" {
		t.Fatalf("identifier/name: %q %q", r.Identifier(), r.Name())
	}
	d := r.WithDigest("sha256:" + hex64)
	if d.Identifier() != "sha256:"+hex64 || d.Tag != "t" {
		t.Fatalf("WithDigest: %+v", d)
	}
	if w := d.WithTag("u"); w.String() != "host:5000/a/b:u" {
		t.Fatalf("WithTag: %s", w)
	}
}
