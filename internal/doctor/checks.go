package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/elfinterp"
	"golang.org/x/sys/unix"
)

// Checks are every check, in the order the report prints them.
func Checks() []Check {
	return []Check{
		{Name: "root", Why: "every step makes namespaces, mounts or cgroups, and those need root", Run: checkRoot},
		{Name: "/proc", Why: "workshop finds its containers' processes by pid under /proc, which must be its own PID namespace's", Run: checkProc},
		{Name: "kernel", Why: "the features below came with kernel versions; the lessons were written on 5.10 and later", Run: checkKernel},
		{Name: "namespaces", Why: "step 3 gives the shell its own mount, UTS, IPC, network, PID, user and cgroup namespaces: each is tried here", Run: checkNamespaces},
		{Name: "user namespaces", Why: "the walkthrough's unshare --user --map-root-user needs user namespaces allowed by these sysctls", Run: checkUserNSSysctls},
		{Name: "cgroups", Why: "step 4 limits memory, CPU and processes through cgroups; it writes v1 or v2 files, whichever the host has", Run: checkCgroups},
		{Name: "mounts", Why: "step 6 builds the container's root as an overlay and enters it with pivot_root: both are tried in a throwaway mount namespace", Run: checkMounts},
		{Name: "tools", Why: "the lessons compare workshop's narration with strace, and build small roots from a static busybox", Run: checkTools},
		{Name: "state dir", Why: "roots, images and containers are kept in the state dir", Run: checkSpace},
	}
}

func checkRoot(h *Host) []Finding {
	if h.Euid == 0 {
		return []Finding{{Status: OK, Name: "root", Detail: "running as root"}}
	}
	return []Finding{{Status: Fail, Name: "root", Detail: fmt.Sprintf("running as uid %d, not root: the checks that need root are skipped", h.Euid),
		Fix: "run it with sudo: sudo workshop doctor"}}
}

// minKernel is the oldest kernel with everything the steps use: cgroup
// namespaces came in 4.6, the cgroup v2 cpu controller in 4.15, and the
// lessons were written on Debian 11's 5.10 and later.
var minKernel = [2]int{5, 4}

func checkKernel(h *Host) []Finding {
	release, machine, err := h.Uname()
	if err != nil {
		return []Finding{{Status: Fail, Name: "kernel", Detail: fmt.Sprintf("uname: %v", err), Fix: "this is not a Linux workshop can run on: use the classroom VM (vagrant up)"}}
	}
	out := []Finding{}
	major, minor, ok := kernelVersion(release)
	switch {
	case !ok:
		out = append(out, Finding{Status: Warn, Name: "kernel", Detail: fmt.Sprintf("cannot read the version in %q", release),
			Fix: "the checks below try each feature for real; trust them"})
	case major < minKernel[0] || major == minKernel[0] && minor < minKernel[1]:
		out = append(out, Finding{Status: Warn, Name: "kernel", Detail: fmt.Sprintf("Linux %s is older than %d.%d: some features may be missing (see below)", release, minKernel[0], minKernel[1]),
			Fix: "use the classroom VM (vagrant up): Debian 12's kernel has everything"})
	case major == 5 && minor < 7 && cgroupV2(h):
		// On cgroup v2 a container is born in its group by clone3's
		// CLONE_INTO_CGROUP, which came in 5.7; v1 and hybrid do without.
		out = append(out, Finding{Status: Warn, Name: "kernel", Detail: fmt.Sprintf("Linux %s: on this cgroup v2 machine steps 4 to 6 need 5.7 (clone3 with CLONE_INTO_CGROUP)", release),
			Fix: "use the classroom VM (vagrant up): Debian 12's kernel has everything"})
	default:
		out = append(out, Finding{Status: OK, Name: "kernel", Detail: "Linux " + release})
	}
	switch machine {
	case "x86_64", "aarch64":
		out = append(out, Finding{Status: OK, Name: "architecture", Detail: machine})
	default:
		out = append(out, Finding{Status: Warn, Name: "architecture", Detail: machine + ": workshop is tested on x86_64 and aarch64 only",
			Fix: "it may well work; if a step fails, try the classroom VM"})
	}
	return out
}

// kernelVersion reads "6.1.0-18-amd64" as 6, 1.
func kernelVersion(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return major, minor, true
}

// readSysctl reads /proc/sys/a/b for "a.b"; ok is false when the kernel has
// no such setting.
func readSysctl(h *Host, name string) (value string, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(h.ProcSys, strings.ReplaceAll(name, ".", "/")))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(data)), true, nil
}

// checkUserNSSysctls reads the three settings that forbid user namespaces.
// user.max_user_namespaces = 0 forbids them to everyone, root too. The other
// two forbid them only to unprivileged users: workshop runs as root and is
// not affected, but the walkthrough's "unshare --user" typed by a student
// without sudo is, so they are warnings.
func checkUserNSSysctls(h *Host) []Finding {
	const name = "user namespaces"
	max, ok, err := readSysctl(h, "user.max_user_namespaces")
	if err != nil {
		return []Finding{{Status: Warn, Name: name, Detail: err.Error()}}
	}
	if !ok {
		return []Finding{{Status: Fail, Name: name, Detail: "this kernel has no user.max_user_namespaces: it was built without user namespaces",
			Fix: "use the classroom VM (vagrant up), or a kernel built with CONFIG_USER_NS"}}
	}
	if max == "0" {
		return []Finding{{Status: Fail, Name: name, Detail: "user.max_user_namespaces = 0: nobody, not even root, may create one",
			Fix: "sudo sysctl -w user.max_user_namespaces=15000 (a file in /etc/sysctl.d/ keeps it after a reboot)"}}
	}
	var out []Finding
	if v, ok, _ := readSysctl(h, "kernel.unprivileged_userns_clone"); ok && v == "0" {
		out = append(out, Finding{Status: Warn, Name: name, Detail: "kernel.unprivileged_userns_clone = 0: root may create them (all workshop needs), users without sudo may not",
			Fix: "for the walkthrough's unshare --user without sudo: sudo sysctl -w kernel.unprivileged_userns_clone=1"})
	}
	if v, ok, _ := readSysctl(h, "kernel.apparmor_restrict_unprivileged_userns"); ok && v == "1" {
		out = append(out, Finding{Status: Warn, Name: name, Detail: "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu): root may create them (all workshop needs), users without sudo get no capabilities in them",
			Fix: "for the walkthrough's unshare --user without sudo: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"})
	}
	if out == nil {
		out = append(out, Finding{Status: OK, Name: name, Detail: fmt.Sprintf("allowed (user.max_user_namespaces = %s)", max)})
	}
	return out
}

// tools are the host programs the lessons use beside workshop. None is
// needed by a step itself, so a missing one is a warning.
var tools = []struct {
	file, pkg, why string
	static         bool // a dynamically linked one does not do
}{
	{"strace", "strace", "the lessons check workshop's narration against strace", false},
	{"busybox", "busybox-static", "a static busybox is the smallest root a lesson can build", true},
	{"cgcreate", "cgroup-tools", "the walkthrough's cgcreate, cgclassify and cgset", false},
}

func checkTools(h *Host) []Finding {
	var out []Finding
	for _, t := range tools {
		if p, err := h.LookPath(t.file); err == nil {
			if interp, _ := elfinterp.Of(p); t.static && interp != "" {
				out = append(out, Finding{Status: Warn, Name: t.file, Detail: fmt.Sprintf("%s is dynamically linked (it needs %s): %s, alone in an empty root", p, interp, t.why),
					Fix: "sudo apt-get install " + t.pkg})
				continue
			}
			out = append(out, Finding{Status: OK, Name: t.file, Detail: p})
			continue
		}
		out = append(out, Finding{Status: Warn, Name: t.file, Detail: "not found in PATH: " + t.why,
			Fix: "sudo apt-get install " + t.pkg})
	}
	return out
}

// The space a state dir should have: a root made from host binaries is a
// few MiB, an image tar about the same again, a container's upper layer
// what its command writes.
const (
	spaceFail = 64 << 20
	spaceWarn = 512 << 20
)

func checkSpace(h *Host) []Finding {
	const name = "state dir"
	dir := existingAncestor(h.StateDir)
	where := h.StateDir
	if dir != filepath.Clean(h.StateDir) {
		where = fmt.Sprintf("%s (not made yet; it will be on %s's filesystem)", h.StateDir, dir)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return []Finding{{Status: Fail, Name: name, Detail: dir + " is not a directory",
			Fix: "remove it, or give another state dir: workshop --state-dir DIR …"}}
	}
	// As root, only a read-only filesystem stops a write (a user who is not
	// root is told to use sudo, by the root check).
	if err := h.Writable(dir); err != nil && h.Euid == 0 {
		return []Finding{{Status: Fail, Name: name, Detail: fmt.Sprintf("%s cannot be written in: %v", where, errnoText(err)),
			Fix: "give a state dir on a writable filesystem: workshop --state-dir DIR …"}}
	}
	if h.Noexec(dir) {
		// A failure, not a warning: four steps of six fail.
		return []Finding{{Status: Fail, Name: name, Detail: where + " is on a filesystem mounted noexec: steps 2 to 5 run programs from the roots they make there, which noexec forbids (permission denied); step 6 runs them through its overlay, which is not noexec",
			Fix: "give a state dir on another filesystem: workshop --state-dir DIR …, or remount this one without noexec"}}
	}
	free, err := h.FreeBytes(dir)
	if err != nil {
		return []Finding{{Status: Fail, Name: name, Detail: err.Error(), Fix: "give a state dir on a local filesystem: workshop --state-dir DIR …"}}
	}
	detail := fmt.Sprintf("%s free in %s", humanBytes(free), where)
	switch {
	case free < spaceFail:
		return []Finding{{Status: Fail, Name: name, Detail: detail, Fix: "free some space (sudo workshop clean removes what workshop left), or use --state-dir on a larger filesystem"}}
	case free < spaceWarn:
		return []Finding{{Status: Warn, Name: name, Detail: detail, Fix: "enough for the steps, not for many images: sudo workshop clean removes what workshop left"}}
	}
	return []Finding{{Status: OK, Name: name, Detail: detail}}
}

// errnoText is err's errno in words ("read-only file system"), or err.
func errnoText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// humanBytes prints 1536 MiB as "1.5 GiB": the student reads it, not a program.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		suffix = s
		if v < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// cgroupV2 reports whether step 4 sees a cgroup v2 machine.
func cgroupV2(h *Host) bool {
	if h.Cgroups == nil {
		return false
	}
	l, err := h.Cgroups.Layout()
	return err == nil && l.Mode == "cgroup v2"
}
