package container

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/mountopt"
)

// mountEntry is one line of /proc/self/mountinfo, as proc(5) numbers its
// fields:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)  (4)   (5)     (6)       (7)   (8) (9)    (10)        (11)
//
// (1) the mount's id, (2) its parent's id (the mount it sits on), (5) the
// mount point as this process sees it, (7) optional fields up to the "-"
// (8), then (9) the filesystem type and (10) the source.
type mountEntry struct {
	ID, Parent int
	Point      string
	FSType     string
	Source     string
}

// parseMountinfo reads the lines of a mountinfo file.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var mounts []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024) // overlay lines carry long options
	for line := 1; sc.Scan(); line++ {
		// Spaces in paths are escaped (\040), so a line splits on spaces.
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: %q: no filesystem type after the optional fields", line, sc.Text())
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: %q: the first two fields are not mount ids", line, sc.Text())
		}
		mounts = append(mounts, mountEntry{
			ID: id, Parent: parent,
			Point:  mountopt.Unescape(f[4]),
			FSType: mountopt.Unescape(f[sep+1]),
			Source: mountopt.Unescape(f[sep+2]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
}

// readMounts reads this process's mount table.
func readMounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(f)
}

// within reports whether path is dir or lies inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// mountsUnder returns the mounts at dir or below it, innermost first: a
// mount comes before the mount it sits on (its parent, which may be another
// mount stacked on the same point), so that each one can be detached alone
// and none is taken away with its parent.
func mountsUnder(all []mountEntry, dir string) []mountEntry {
	byID := make(map[int]mountEntry, len(all))
	for _, m := range all {
		byID[m.ID] = m
	}
	depth := func(m mountEntry) int {
		d := 0
		for seen := 0; seen < len(all); seen++ { // a loop in the ids cannot hang us
			p, ok := byID[m.Parent]
			if !ok || p.ID == m.ID {
				break
			}
			d, m = d+1, p
		}
		return d
	}
	var under []mountEntry
	depths := map[int]int{}
	for _, m := range all {
		if within(m.Point, dir) {
			under = append(under, m)
			depths[m.ID] = depth(m)
		}
	}
	sort.SliceStable(under, func(i, j int) bool {
		if depths[under[i].ID] != depths[under[j].ID] {
			return depths[under[i].ID] > depths[under[j].ID]
		}
		return len(under[i].Point) > len(under[j].Point)
	})
	return under
}
