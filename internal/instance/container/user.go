package container

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// execUser is who a Run's process runs as.
type execUser struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// parsePasswd reads /etc/passwd lines (name:password:uid:gid:gecos:home:shell).
// Malformed lines are skipped, as libc does.
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := scanColonLines(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if f[0] == "" || err1 != nil || err2 != nil {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// parseGroup reads /etc/group lines (name:password:gid:member,member).
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := scanColonLines(r, func(f []string) {
		if len(f) < 3 || f[0] == "" {
			return
		}
		gid, err := parseID(f[2])
		if err != nil {
			return
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.members = append(e.members, m)
				}
			}
		}
		out = append(out, e)
	})
	return out, err
}

func scanColonLines(r io.Reader, fn func([]string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading user database: %w", err)
	}
	return nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// resolveUser turns a Dockerfile-style user spec ("", "uid", "uid:gid",
// "name", "name:group") into ids, looking names up in passwd and group
// (either may be nil when the sandbox has no such file). Numeric ids need
// no entry; supplementary groups come from the groups listing the user's
// name.
func resolveUser(spec string, passwd, group io.Reader) (execUser, error) {
	users, err := parsePasswd(passwd)
	if err != nil {
		return execUser{}, err
	}
	groups, err := parseGroup(group)
	if err != nil {
		return execUser{}, err
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		if hasGroup {
			return execUser{}, fmt.Errorf("user %q: empty user name", spec)
		}
		userPart = "0"
	}
	if hasGroup && groupPart == "" {
		return execUser{}, fmt.Errorf("user %q: empty group name", spec)
	}

	u := execUser{Home: "/"}
	var name string
	if id, err := parseID(userPart); err == nil {
		u.UID = id
		for _, e := range users {
			if e.uid == id {
				name, u.GID, u.Home = e.name, e.gid, e.home
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userPart {
				name, u.UID, u.GID, u.Home, found = e.name, e.uid, e.gid, e.home, true
				break
			}
		}
		if !found {
			return execUser{}, fmt.Errorf("user %q: no such user in /etc/passwd", userPart)
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if hasGroup {
		if id, err := parseID(groupPart); err == nil {
			u.GID = id
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return execUser{}, fmt.Errorf("group %q: no such group in /etc/group", groupPart)
			}
		}
	}
	if name != "" {
		seen := map[uint32]bool{u.GID: true}
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && !seen[g.gid] {
					seen[g.gid] = true
					u.AdditionalGids = append(u.AdditionalGids, g.gid)
				}
			}
		}
	}
	return u, nil
}
