package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// mountEntry is one line of /proc/self/mountinfo (proc(5)).
type mountEntry struct {
	Point        string
	FSType       string
	Options      []string // per-mount: rw, nosuid…
	SuperOptions []string // per-filesystem: for cgroup v1, the controllers
}

// parseMountinfo reads the lines of /proc/self/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The optional fields end at "-"; then come the filesystem type, the source
// and the super options.
func parseMountinfo(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		out = append(out, mountEntry{
			Point:        unescapeMount(fields[4]),
			FSType:       fields[sep+1],
			Options:      strings.Split(fields[5], ","),
			SuperOptions: strings.Split(fields[sep+3], ","),
		})
	}
	return out
}

// unescapeMount undoes the octal escapes the kernel writes for a space, a
// tab, a newline and a backslash in a mount point.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// cgroupLayout is where the cgroup hierarchies are mounted.
type cgroupLayout struct {
	v1 map[string]mountEntry // controller -> the v1 hierarchy that has it
	v2 *mountEntry           // the cgroup2 mount, if any
}

func readCgroupLayout(mountinfo string) (cgroupLayout, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return cgroupLayout{}, err
	}
	l := cgroupLayout{v1: map[string]mountEntry{}}
	for _, m := range parseMountinfo(string(data)) {
		switch m.FSType {
		case "cgroup":
			for _, opt := range m.SuperOptions {
				if _, seen := l.v1[opt]; !seen && !notController(opt) {
					l.v1[opt] = m
				}
			}
		case "cgroup2":
			if l.v2 == nil {
				m := m
				l.v2 = &m
			}
		}
	}
	return l, nil
}

// notController reports whether a v1 super option is a mount option
// (cgroups(7)) rather than the name of a controller bound to the hierarchy.
func notController(opt string) bool {
	switch opt {
	case "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "all", "none":
		return true
	}
	return strings.Contains(opt, "=") // name=systemd, release_agent=…
}

// mode names the layout as DESIGN.md does: v1, v2, or hybrid (v1
// controllers beside a cgroup2 mount that has none or few).
func (l cgroupLayout) mode() string {
	switch {
	case len(l.v1) > 0 && l.v2 != nil:
		return "hybrid"
	case len(l.v1) > 0:
		return "v1"
	case l.v2 != nil:
		return "v2"
	}
	return "none"
}

// limits are the controllers step 4 uses, and the file that limits each in
// a v1 and in a v2 hierarchy.
var limits = []struct{ controller, v1File, v2File string }{
	{"memory", "memory.limit_in_bytes", "memory.max"},
	{"cpu", "cpu.cfs_quota_us", "cpu.max"},
	{"pids", "pids.max", "pids.max"},
}

// probeCgroup is the name of the throwaway cgroup the checks make and remove
// beside the "workshop" cgroup the steps use.
func probeCgroup() string { return fmt.Sprintf("workshop-doctor-%d", os.Getpid()) }

func checkCgroups(h *Host) []Finding {
	l, err := readCgroupLayout(h.Mountinfo)
	if err != nil {
		return []Finding{{Status: Fail, Name: "cgroups", Detail: err.Error(), Fix: "use the classroom VM (vagrant up)"}}
	}
	out := []Finding{modeFinding(l)}
	for _, lim := range limits {
		out = append(out, controllerFinding(h, l, lim.controller, lim.v1File, lim.v2File))
	}
	return out
}

func modeFinding(l cgroupLayout) Finding {
	const name = "cgroups"
	switch l.mode() {
	case "hybrid":
		return Finding{Status: OK, Name: name, Detail: fmt.Sprintf("hybrid: v1 controllers (%s), and cgroup2 at %s; workshop uses the v1 ones", strings.Join(sortedKeys(l.v1), ","), l.v2.Point)}
	case "v1":
		return Finding{Status: OK, Name: name, Detail: "v1: the walkthrough's cgcreate and memory.limit_in_bytes work literally"}
	case "v2":
		return Finding{Status: OK, Name: name, Detail: fmt.Sprintf("v2 at %s: the walkthrough's v1 files have new names here (memory.max, pids.max, cpu.max)", l.v2.Point)}
	}
	return Finding{Status: Fail, Name: name, Detail: "no cgroup filesystem is mounted",
		Fix: "sudo mount -t cgroup2 none /sys/fs/cgroup, or use the classroom VM (vagrant up)"}
}

func sortedKeys(m map[string]mountEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// controllerFinding says whether step 4 can limit one controller where it
// puts its cgroups: in the controller's v1 hierarchy when it has one (hybrid
// hosts bind memory, cpu and pids to v1), otherwise in the cgroup2 tree.
// It makes a throwaway cgroup there and looks for the limit file.
func controllerFinding(h *Host, l cgroupLayout, controller, v1File, v2File string) Finding {
	name := "cgroup " + controller
	if m, ok := l.v1[controller]; ok {
		return tryLimit(h, name, "v1", m, v1File)
	}
	if l.v2 == nil {
		return Finding{Status: Fail, Name: name, Detail: "no hierarchy has the " + controller + " controller",
			Fix: "use the classroom VM (vagrant up)"}
	}
	available, err := os.ReadFile(filepath.Join(l.v2.Point, "cgroup.controllers"))
	if err != nil {
		return Finding{Status: Fail, Name: name, Detail: err.Error(), Fix: "use the classroom VM (vagrant up)"}
	}
	if !slices.Contains(strings.Fields(string(available)), controller) {
		fix := "the kernel lacks it, or it is bound to a v1 hierarchy that is not mounted: use the classroom VM (vagrant up)"
		if controller == "memory" {
			fix = "add cgroup_enable=memory to the kernel command line and reboot (Raspberry Pi OS leaves it off), or use the classroom VM"
		}
		return Finding{Status: Fail, Name: name, Detail: fmt.Sprintf("not in %s/cgroup.controllers (%q)", l.v2.Point, strings.TrimSpace(string(available))), Fix: fix}
	}
	// In v2, a child cgroup has the controller's files only once its parent
	// enables it in cgroup.subtree_control, which step 4 does itself; here
	// it is enough to know the controller is there and cgroups can be made.
	return tryLimit(h, name, "v2", *l.v2, "")
}

func tryLimit(h *Host, name, version string, m mountEntry, file string) Finding {
	if slices.Contains(m.Options, "ro") {
		return Finding{Status: Fail, Name: name, Detail: m.Point + " is mounted read-only",
			Fix: "workshop cannot make cgroups here (inside a container?): use the classroom VM (vagrant up)"}
	}
	if h.Euid != 0 {
		return Finding{Status: Skip, Name: name, Detail: fmt.Sprintf("%s at %s; not tried: making a cgroup needs root", version, m.Point)}
	}
	var files []string
	if file != "" {
		files = []string{file}
	}
	present, err := h.TryCgroup(m.Point, probeCgroup(), files)
	if err != nil {
		return Finding{Status: Fail, Name: name, Detail: err.Error(), Fix: "use the classroom VM (vagrant up)"}
	}
	if file != "" && !slices.Contains(present, file) {
		return Finding{Status: Fail, Name: name, Detail: fmt.Sprintf("a new cgroup under %s has no %s", m.Point, file),
			Fix: "this kernel cannot limit it: use the classroom VM (vagrant up)"}
	}
	where := filepath.Join(m.Point, "workshop")
	if file != "" {
		return Finding{Status: OK, Name: name, Detail: fmt.Sprintf("%s: %s under %s", version, file, where)}
	}
	return Finding{Status: OK, Name: name, Detail: fmt.Sprintf("%s: available, cgroups can be made under %s", version, where)}
}

// tryCgroup makes dir/name, lists which of files it has, and removes it.
func tryCgroup(dir, name string, files []string) (present []string, err error) {
	p := filepath.Join(dir, name)
	if err := unix.Mkdir(p, 0o755); err != nil {
		return nil, &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	defer unix.Rmdir(p)
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(p, f)); err == nil {
			present = append(present, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return present, nil
}
