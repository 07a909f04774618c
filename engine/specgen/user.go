package specgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
)

const maxID = 1<<31 - 1

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// LookupUser resolves a Docker user spec ("", name, uid, name:group,
// uid:gid, ...) against the image's /etc/passwd and /etc/group, as runc's
// GetExecUser does for dockerd: a number is always an id, and works without
// an entry; a name must have one. additionalGids is what Docker puts in
// process.user.additionalGids without --group-add: the primary gid, then the
// groups listing the user (only when no group was given). home is the
// passwd home, or "/" without an entry.
func LookupUser(rootfs, user string) (uid, gid uint32, additionalGids []uint32, home string, err error) {
	userArg, groupArg, _ := strings.Cut(user, ":")
	uidArg, uidErr := strconv.Atoi(userArg)
	gidArg, gidErr := strconv.Atoi(groupArg)

	users, perr := readPasswd(rootfs)
	if perr != nil {
		return 0, 0, nil, "", perr
	}
	u := 0
	g := 0
	home = "/"
	var matched *passwdEntry
	for i := range users {
		e := &users[i]
		switch {
		case userArg == "":
			if e.uid == 0 {
				matched = e
			}
		case uidErr == nil:
			if e.uid == uidArg {
				matched = e
			}
		default:
			if e.name == userArg {
				matched = e
			}
		}
		if matched != nil {
			break
		}
	}
	switch {
	case matched != nil:
		u, g, home = matched.uid, matched.gid, matched.home
		if home == "" {
			home = "/"
		}
	case userArg == "":
	case uidErr != nil:
		return 0, 0, nil, "", fmt.Errorf("unable to find user %s: no matching entries in passwd file %s", userArg, passwdFile(rootfs))
	default:
		if uidArg < 0 || uidArg > maxID {
			return 0, 0, nil, "", fmt.Errorf("user %s: uids and gids must be in range 0-%d", userArg, maxID)
		}
		u = uidArg
	}

	var sgids []uint32
	if groupArg != "" || matched != nil {
		groups, gerr := readGroup(rootfs)
		if gerr != nil {
			return 0, 0, nil, "", gerr
		}
		if groupArg != "" {
			found := false
			for _, e := range groups {
				if (gidErr == nil && e.gid == gidArg) || (gidErr != nil && e.name == groupArg) {
					g, found = e.gid, true
					break
				}
			}
			if !found {
				if gidErr != nil {
					return 0, 0, nil, "", fmt.Errorf("unable to find group %s: no matching entries in group file %s", groupArg, groupFile(rootfs))
				}
				if gidArg < 0 || gidArg > maxID {
					return 0, 0, nil, "", fmt.Errorf("group %s: uids and gids must be in range 0-%d", groupArg, maxID)
				}
				g = gidArg
			}
		} else {
			for _, e := range groups {
				for _, m := range e.members {
					if m == matched.name {
						sgids = append(sgids, uint32(e.gid))
						break
					}
				}
			}
		}
	}
	return uint32(u), uint32(g), append([]uint32{uint32(g)}, sgids...), home, nil
}

// LookupGroups resolves --group-add values (names or gids) against the
// image's /etc/group, as runc's GetAdditionalGroups does: a name must
// exist, a number works without an entry; duplicates are dropped.
func LookupGroups(rootfs string, names []string) ([]uint32, error) {
	if len(names) == 0 {
		return nil, nil
	}
	groups, err := readGroup(rootfs)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var out []uint32
	for _, n := range names {
		gid := -1
		for _, e := range groups {
			if e.name == n || strconv.Itoa(e.gid) == n {
				gid = e.gid
				break
			}
		}
		if gid < 0 {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unable to find group %s: no matching entries in group file %s", n, groupFile(rootfs))
			}
			if v < 0 || v > maxID {
				return nil, fmt.Errorf("group %s: uids and gids must be in range 0-%d", n, maxID)
			}
			gid = int(v)
		}
		if !seen[gid] {
			seen[gid] = true
			out = append(out, uint32(gid))
		}
	}
	return out, nil
}

func passwdFile(rootfs string) string { return rootfs + "/etc/passwd" }
func groupFile(rootfs string) string  { return rootfs + "/etc/group" }

// openInRoot opens rootfs/path resolving symlinks inside rootfs; a missing
// file (or no rootfs) is (nil, nil).
func openInRoot(rootfs, path string) (*os.File, error) {
	if rootfs == "" {
		return nil, nil
	}
	h, err := pathrs.OpenInRoot(rootfs, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", path, rootfs, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", path, rootfs, err)
	}
	return f, nil
}

func readPasswd(rootfs string) ([]passwdEntry, error) {
	f, err := openInRoot(rootfs, "/etc/passwd")
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	var out []passwdEntry
	err = eachLine(f, func(fields []string) {
		e := passwdEntry{name: fields[0]}
		if len(fields) > 2 {
			e.uid, _ = strconv.Atoi(fields[2])
		}
		if len(fields) > 3 {
			e.gid, _ = strconv.Atoi(fields[3])
		}
		if len(fields) > 5 {
			e.home = fields[5]
		}
		out = append(out, e)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", passwdFile(rootfs), err)
	}
	return out, nil
}

func readGroup(rootfs string) ([]groupEntry, error) {
	f, err := openInRoot(rootfs, "/etc/group")
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	var out []groupEntry
	err = eachLine(f, func(fields []string) {
		e := groupEntry{name: fields[0]}
		if len(fields) > 2 {
			e.gid, _ = strconv.Atoi(fields[2])
		}
		if len(fields) > 3 && fields[3] != "" {
			e.members = strings.Split(fields[3], ",")
		}
		out = append(out, e)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", groupFile(rootfs), err)
	}
	return out, nil
}

// eachLine calls fn with the ':'-separated fields of each non-empty line,
// like runc's parsers (which skip nothing else, not even '#').
func eachLine(r io.Reader, fn func([]string)) error {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return s.Err()
}
