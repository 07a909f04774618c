// Package registry pulls images from and pushes images to registries that
// speak the OCI distribution spec, into and out of an image/store.Store.
//
// The protocol machinery (ping, anonymous/basic/bearer token auth, scopes,
// retries of transient statuses, HEAD existence checks, cross-repository
// mounts and chunked uploads on push) is go-containerregistry's. Pull does
// its own manifest and blob GETs over ggcr's authenticated transport so that
// it can check the served media type, hash each blob once while it streams
// into the store, resume a broken blob download with a Range request, and
// report per-blob progress.
//
// # Pull
//
// Pull resolves the reference (trying configured mirrors first), checks the
// manifest's media type (OCI or Docker schema2 manifest, OCI index or Docker
// manifest list; anything else is a *MediaTypeError), selects the platform
// from an index (default: the host's), and fetches the config and layers in
// parallel (WithJobs, default 4). Each blob is verified (digest and size)
// while it is written, under a per-digest lock so that concurrent pulls of
// one image download each blob once. Manifests are stored after their
// blobs, and the image record last: a record only ever points at complete
// content. A failed pull leaves no image record, and removes the blobs it
// added when no other pull is running (else Prune will).
//
// # Auth
//
// Credentials come from the auth file (see AuthFile: $REGISTRY_AUTH_FILE,
// else $DOCKER_CONFIG/config.json, else ~/.docker/config.json) in Docker's
// format, including "credsStore" and "credHelpers" (docker-credential-*
// programs). Login checks the credentials against the registry's /v2/
// endpoint before saving them; Logout removes them.
//
// # Registries config
//
// A JSON file (LoadConfig; berth looks at <root>/registries.json, then
// /etc/berth/registries.json) marks registries as insecure and lists mirrors:
//
//	{
//	  "registries": {
//	    "docker.io":      {"mirrors": ["mirror.internal:5000"]},
//	    "10.0.0.5:5000":  {"insecure": true}
//	  }
//	}
//
// "insecure" allows plain HTTP and unverified TLS for that host. Mirrors are
// host[:port] names tried in order before the registry itself, for pulls
// only; a mirror is insecure if it has its own insecure entry. Loopback and
// RFC 1918 hosts use plain HTTP without configuration (as in ggcr).
package registry
