// Package volume is berth's named-volume store, the equivalent of Docker's
// "local" volume driver, for a daemonless engine: many berth processes may
// use one store at once.
//
// Layout, the same as Docker's:
//
//	<root>/volumes/<name>/_data        the data (the Mountpoint)
//	<root>/volumes/<name>/volume.json  what `docker volume inspect` shows
//	<root>/volumes/<name>/refs.json    users of a mounted (typed) volume
//	<root>/volumes/.locks/<name>       per-volume flock
//
// A volume appears atomically: it is built in a temporary directory and
// renamed into place, and it disappears atomically by a rename before its
// data is deleted. Writers (Create, Remove, Mount, Unmount) serialise on
// the volume's own lock; readers (Get, List) take no lock.
package volume
