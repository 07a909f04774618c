// Package reference parses image references as users write them
// ("busybox", "library/busybox:1.36", "host:5000/a/b@sha256:…") and
// normalises them the way Docker does: the registry defaults to docker.io,
// single-component Docker Hub names get the "library/" prefix, and a
// reference with neither tag nor digest gets the tag "latest".
//
// The grammar is the one of github.com/distribution/reference; errors are
// *ErrBadReference values naming the input and what is wrong with it.
package reference
