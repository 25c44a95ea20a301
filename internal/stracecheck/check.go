// Package stracecheck keeps the narrator honest (DESIGN.md, "The syscall
// narrator"): it runs workshop under `strace -f` and checks that every
// syscall line workshop printed really happened, as strace saw it.
//
// For each narrated line, strace's record must hold a call with the same
// name, the same first string argument (the path, mostly), the same success
// or errno and, for clone, the same flags, in the same order as the lines of
// the same narrating process. A narrating process is the parent (lines with
// no prefix) or a child (lines with "[pid N] "). strace names threads, and Go
// runs on many, so the records are grouped into processes by following the
// clone calls (CLONE_THREAD makes a thread of the caller's process; anything
// else a new process). A child in a new PID namespace calls itself [pid 1];
// its group is matched against whichever process holds its calls.
//
// strace records more than is narrated (the Go runtime's own calls, the
// stat(2) calls a step makes to look before it changes something): those
// extra records are fine. A narrated line with no record is a lie, and fails.
// The other direction, that no call a lesson is about goes unnarrated, is
// CheckNothingHidden's (hidden.go); Compare runs both.
package stracecheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Check compares a narration with a strace log and returns nil when every
// narrated syscall is in the log as described in the package comment, or an
// error naming the first narrated line that is not. traced is the set of
// syscall names strace was told to record (nil: all); a narrated syscall
// outside it is an error too, so that nothing passes unchecked.
func Check(narration, straceLog string, traced []string) error {
	lines := ParseNarration(narration)
	if len(lines) == 0 {
		return fmt.Errorf("the narration has no syscall lines at all")
	}
	if traced != nil {
		set := map[string]bool{}
		for _, s := range traced {
			set[s] = true
		}
		for _, l := range lines {
			if !set[l.Name] {
				return fmt.Errorf("narrated %q, but strace was not asked to trace %s (add it to stracecheck.Syscalls)", l.Line, l.Name)
			}
		}
	}
	records, root := ParseStrace(straceLog)
	if root == 0 {
		return fmt.Errorf("the strace log is empty")
	}
	procs := groupByProcess(records)

	groups := map[string][]Narrated{}
	var order []string
	for _, l := range lines {
		if _, seen := groups[l.Group]; !seen {
			order = append(order, l.Group)
		}
		groups[l.Group] = append(groups[l.Group], l)
	}
	for _, g := range order {
		if err := checkGroup(g, groups[g], procs, root); err != nil {
			return err
		}
	}
	return nil
}

// checkGroup finds the process a narrating group stands for and matches its
// lines there.
func checkGroup(group string, lines []Narrated, procs map[int][]Record, root int) error {
	pid := root
	if group != "" {
		pid, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(group, "[pid "), "]"))
	}
	if recs, ok := procs[pid]; ok {
		if i, why := match(lines, recs); i >= 0 {
			return fmt.Errorf("narrated line %d of %s is not in strace's record of process %d: %q\n%s", i+1, groupName(group), pid, lines[i].Line, why)
		}
		return nil
	}
	// No such process as strace sees it: a child in its own PID namespace.
	// Any process that holds all the group's calls in order will do.
	pids := make([]int, 0, len(procs))
	for p := range procs {
		pids = append(pids, p)
	}
	sort.Ints(pids)
	best, bestAt, bestWhy := 0, -1, ""
	for _, p := range pids {
		i, why := match(lines, procs[p])
		if i < 0 {
			return nil
		}
		if i > bestAt {
			best, bestAt, bestWhy = p, i, why
		}
	}
	if bestAt < 0 {
		return fmt.Errorf("no process in strace's record made the calls %s narrated (first: %q): strace recorded none", groupName(group), lines[0].Line)
	}
	// The process that made the most of them, and where it parted: what
	// tells a lost record from a line made up.
	return fmt.Errorf("no process in strace's record made the calls %s narrated, in that order (first: %q); process %d made the first %d, then not %q:\n%s", groupName(group), lines[0].Line, best, bestAt, lines[bestAt].Line, bestWhy)
}

func groupName(group string) string {
	if group == "" {
		return "the parent"
	}
	return group
}

// match finds the lines, in order, among the records (a subsequence: strace
// has more). It returns -1, or the index of the first line not found and a
// hint about the nearest candidates.
func match(lines []Narrated, recs []Record) (int, string) {
	j := 0
	for i, l := range lines {
		start := j
		for j < len(recs) && !same(l.Call, recs[j].Call) {
			j++
		}
		if j == len(recs) {
			return i, candidates(l.Call, recs[start:])
		}
		j++
	}
	return -1, ""
}

// candidates lists the records of the same syscall left after the last
// match, to show what strace saw instead.
func candidates(c Call, recs []Record) string {
	var b strings.Builder
	n := 0
	for _, r := range recs {
		if r.Name == c.Name {
			if n == 5 {
				b.WriteString("  …\n")
				break
			}
			fmt.Fprintf(&b, "  strace saw: %s\n", r.Line)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(&b, "  strace saw no %s call there after the previous match\n", c.Name)
	}
	return b.String()
}

// same compares a narrated call with a record: name, first string argument,
// success or errno, and clone flags.
func same(n, r Call) bool {
	if n.Name != r.Name || n.Errno != r.Errno || n.HasStr != r.HasStr {
		return false
	}
	if n.HasStr {
		switch {
		case n.Cut && r.Cut:
			if !strings.HasPrefix(r.Str, n.Str) && !strings.HasPrefix(n.Str, r.Str) {
				return false
			}
		case n.Cut:
			if !strings.HasPrefix(r.Str, n.Str) {
				return false
			}
		case r.Cut:
			if !strings.HasPrefix(n.Str, r.Str) {
				return false
			}
		default:
			if n.Str != r.Str {
				return false
			}
		}
	}
	if n.Detail != "" && r.Detail != "" && n.Detail != r.Detail {
		return false
	}
	if n.Flags != nil && r.Flags != nil && !sameSet(n.Flags, r.Flags) {
		return false
	}
	return true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, v := range seen {
		if v != 0 {
			return false
		}
	}
	return true
}

// groupByProcess sorts records into processes (thread group ids) by
// following clone: a clone with CLONE_THREAD adds a thread to the caller's
// process, any other clone (or fork, vfork) makes a new process.
func groupByProcess(records []Record) map[int][]Record {
	type edge struct {
		parent int
		thread bool
	}
	edges := map[int]edge{}
	for _, r := range records {
		switch r.Name {
		case "clone", "clone3", "fork", "vfork":
		default:
			continue
		}
		if r.Errno != "" || r.Ret <= 0 {
			continue
		}
		thread := false
		for _, f := range r.Flags {
			if f == "CLONE_THREAD" {
				thread = true
			}
		}
		edges[int(r.Ret)] = edge{parent: r.Tid, thread: thread}
	}
	var tgid func(tid, depth int) int
	tgid = func(tid, depth int) int {
		e, ok := edges[tid]
		if !ok || !e.thread || depth > 10000 {
			return tid
		}
		return tgid(e.parent, depth+1)
	}
	procs := map[int][]Record{}
	for _, r := range records {
		p := tgid(r.Tid, 0)
		procs[p] = append(procs[p], r)
	}
	return procs
}
