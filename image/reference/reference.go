package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

const (
	// DefaultDomain is the registry used when a reference names none.
	DefaultDomain = "docker.io"
	// DefaultTag is the tag used when a reference has neither tag nor digest.
	DefaultTag = "latest"

	legacyDomain   = "index.docker.io"
	officialPrefix = "library/"
	maxNameLength  = 255
)

// ErrInvalid is the class of every parse error; test with errors.Is.
var ErrInvalid = errors.New("invalid reference")

// ErrBadReference reports a reference that does not parse. It names the
// input so that a message reaching the user says which reference was bad.
type ErrBadReference struct {
	Input  string
	Reason string
}

func (e *ErrBadReference) Error() string {
	return fmt.Sprintf("invalid reference %q: %s", e.Input, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ErrBadReference) Unwrap() error { return ErrInvalid }

// Reference is a normalised image reference: Domain and Path are always set,
// and at least one of Tag and Digest is.
type Reference struct {
	Domain string        // registry host[:port], e.g. "docker.io"
	Path   string        // repository path, e.g. "library/busybox"
	Tag    string        // e.g. "latest"; empty if only a digest was given
	Digest digest.Digest // empty unless the reference pins a digest
}

// The grammar from distribution/reference (regexp.go), anchored per part.
var (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainRe        = regexp.MustCompile(`^(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	pathComponentRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
)

// Parse parses s and normalises it (docker.io default registry, library/
// prefix for official images, latest default tag).
func Parse(s string) (Reference, error) {
	bad := func(format string, a ...any) (Reference, error) {
		return Reference{}, &ErrBadReference{Input: s, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return bad("empty reference")
	}
	if strings.TrimSpace(s) != s {
		return bad("contains leading or trailing white space")
	}
	if isHex64(s) {
		return bad("a 64-character hexadecimal string is an image ID, not a repository name")
	}
	rest := s
	var ref Reference
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d, err := digest.Parse(rest[i+1:])
		if err != nil {
			return bad("digest %q: %v", rest[i+1:], err)
		}
		ref.Digest = d
		rest = rest[:i]
	}
	// A tag follows the last ':' unless that ':' is part of the domain's
	// port (then a '/' comes after it).
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		ref.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(ref.Tag) {
			return bad("tag %q must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", ref.Tag)
		}
	}
	if rest == "" {
		return bad("missing repository name")
	}
	// The first component is a domain only if it looks like one: it holds
	// a '.' or ':', is "localhost", or has upper-case letters (Docker's rule).
	domain, path := DefaultDomain, rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		first := rest[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			domain, path = first, rest[i+1:]
		}
	}
	if !domainRe.MatchString(domain) {
		return bad("registry %q is not a valid host[:port]", domain)
	}
	if domain == legacyDomain {
		domain = DefaultDomain
	}
	if path == "" {
		return bad("missing repository name")
	}
	for _, c := range strings.Split(path, "/") {
		if c == "" {
			return bad("empty path component in repository %q", path)
		}
		if !pathComponentRe.MatchString(c) {
			if strings.ToLower(c) != c {
				return bad("repository name %q must be lowercase", path)
			}
			return bad("path component %q must match [a-z0-9]+ separated by '.', '_', '__' or '-'", c)
		}
	}
	if domain == DefaultDomain && !strings.Contains(path, "/") {
		path = officialPrefix + path
	}
	if n := len(domain) + 1 + len(path); n > maxNameLength {
		return bad("name is %d characters long, more than %d", n, maxNameLength)
	}
	ref.Domain, ref.Path = domain, path
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = DefaultTag
	}
	return ref, nil
}

// MustParse is Parse that panics; for tests and constants.
func MustParse(s string) Reference {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Name is the repository: domain/path, e.g. "docker.io/library/busybox".
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the fully qualified form, e.g. "docker.io/library/busybox:latest"
// or "host:5000/a/b@sha256:…".
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// Familiar is the short form Docker shows: "busybox:latest",
// "user/app:1", "host:5000/a/b@sha256:…".
func (r Reference) Familiar() string {
	name := r.Name()
	if r.Domain == DefaultDomain {
		name = strings.TrimPrefix(r.Path, officialPrefix)
	}
	if r.Tag != "" {
		name += ":" + r.Tag
	}
	if r.Digest != "" {
		name += "@" + r.Digest.String()
	}
	return name
}

// WithDigest returns r pinned to d (keeping its tag).
func (r Reference) WithDigest(d digest.Digest) Reference { r.Digest = d; return r }

// WithTag returns r with tag t and no digest.
func (r Reference) WithTag(t string) Reference { r.Tag, r.Digest = t, ""; return r }

// Identifier is what a registry's /manifests/<id> endpoint takes: the
// digest if pinned, else the tag.
func (r Reference) Identifier() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// validTag is `^[\w][\w.-]{0,127}$`, written out: that regexp's bounded
// repetition compiles to a large program, ~3 ms at every process start.
func validTag(t string) bool {
	if len(t) == 0 || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !word && (i == 0 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// isHex64 is `^[a-f0-9]{64}$`.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
