// Package opts parses the values of docker run/create flags into typed
// values, with Docker's syntax and Docker's error texts.
//
// Every parser is a pure function of its input (except where Docker itself
// reads a file at parse time: --env-file, --label-file, seccomp profiles).
// Errors are *FlagError values that print like the CLI's own flag errors:
//
//	invalid argument "x" for "--ulimit" flag: invalid ulimit argument: x
//
// so the CLI can return them as they are, while an API server can unwrap
// the Docker-worded cause with errors.As / FlagError.Err.
package opts
