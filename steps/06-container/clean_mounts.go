package container

import (
	"sort"
	"strings"

	"github.com/workshop-dev/workshop/internal/mountopt"
)

// within reports whether path is dir or lies inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// mountsUnder returns the mounts at dir or below it, innermost first: a
// mount comes before the mount it sits on (its parent, which may be another
// mount stacked on the same point), so that each one can be detached alone
// and none is taken away with its parent.
func mountsUnder(all []mountopt.Entry, dir string) []mountopt.Entry {
	byID := make(map[int]mountopt.Entry, len(all))
	for _, m := range all {
		byID[m.ID] = m
	}
	depth := func(m mountopt.Entry) int {
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
	var under []mountopt.Entry
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
