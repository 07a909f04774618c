// Package platform parses and matches image platforms ("linux/amd64",
// "linux/arm64/v8") the way Docker and containerd do, so that pull and the
// local store choose the same manifest out of an index.
package platform
