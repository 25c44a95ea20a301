package mountopt

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Entry is one line of /proc/PID/mountinfo, as proc(5) numbers its fields:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)  (4)   (5)     (6)       (7)   (8) (9)    (10)        (11)
//
// (1) the mount's id, (2) its parent's id (the mount it sits on), (5) the
// mount point as this process sees it, (7) optional fields up to the "-"
// (8), then (9) the filesystem type, (10) the source and (11) the
// filesystem's own options (a v1 cgroup hierarchy's controllers are there).
type Entry struct {
	ID, Parent   int
	Point        string
	FSType       string
	Source       string
	SuperOptions []string // each unescaped: a comma inside one is written \054
}

// Parse reads the lines of a mountinfo file, its paths unescaped.
func Parse(r io.Reader) ([]Entry, error) {
	var mounts []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024) // overlay lines carry long options
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		// Spaces in paths are escaped (\040), so a line splits on spaces,
		// and " - " ends the optional fields. After it, single spaces: a
		// source may be empty (mount -t cgroup "" DIR), two spaces in a row.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Split(post, " ")
		if !ok || len(f) < 6 || len(g) < 2 || g[0] == "" {
			return nil, fmt.Errorf("mountinfo line %d: %q: no filesystem type after the optional fields", line, sc.Text())
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: %q: the first two fields are not mount ids", line, sc.Text())
		}
		e := Entry{
			ID: id, Parent: parent,
			Point:  Unescape(f[4]),
			FSType: Unescape(g[0]),
			Source: Unescape(g[1]),
		}
		if len(g) > 2 {
			// Split, then unescaped: the kernel escapes a comma inside an
			// option's value, and an unescaped one would split it.
			for _, o := range strings.Split(g[2], ",") {
				e.SuperOptions = append(e.SuperOptions, Unescape(o))
			}
		}
		mounts = append(mounts, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
}

// ReadSelf reads this process's mount table.
func ReadSelf() ([]Entry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}
