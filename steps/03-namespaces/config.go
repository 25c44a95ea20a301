package namespaces

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
	"golang.org/x/sys/unix"
)

// Config is what a container of step 3 is made of.
type Config struct {
	// Root is the container's root directory.
	Root string
	// Args is the command; Args[0] is looked up inside the root, on the
	// container's PATH, after the chroot.
	Args []string
	// Env is the command's environment. Nil: a small default (PATH,
	// HOME=/root, HOSTNAME, and TERM when workshop has one).
	Env []string
	// Namespaces are the names of the namespaces to make, of mount, uts,
	// ipc, net, pid, user, cgroup. Nil means all seven; an empty, non-nil
	// list means none (a plain chroot, as in step 2).
	Namespaces []string
	// Hostname is set in the new UTS namespace; "" means the container id.
	Hostname string
	// ID names the container; "" means a fresh ids.New().
	ID string
	// UIDMap and GIDMap map the container's user and group ids to the
	// host's when a user namespace is made. Nil: root inside is the caller
	// outside and no other id exists, as `unshare --map-root-user` writes it
	// ("0 <uid> 1", setgroups denied). HostRange maps root to an
	// unprivileged host range instead (Docker's userns-remap).
	UIDMap, GIDMap []IDMap
	// Init puts a tiny init as PID 1 that runs the command as its child,
	// reaps zombies and forwards signals (docker run --init).
	Init bool
	// CgroupDir, when set, is a cgroup v2 directory the child is born in:
	// clone3 with CLONE_INTO_CGROUP puts it there atomically, so it never
	// has to be moved in by a write to cgroup.procs (a migration, which
	// waits for an RCU grace period). Step 4 and 6 use it on cgroup v2; v1
	// has no such flag.
	CgroupDir string
	// BornIn, when set, makes the clone: Start calls it with the call that
	// clones the child, and it calls that on a thread standing in the
	// container's cgroup, so the child is born there (step 4 on cgroup v1,
	// which has no CLONE_INTO_CGROUP: cgroups.Cgroup.BornIn).
	BornIn func(clone func() error) error
	// StopGrace, when set, is how long after workshop passed a stop signal
	// on to the container its cgroup is killed if it has not ended (step
	// 4's watch, which also kills at once on a second stop signal): the
	// note of the first says so, and a second is left to the watch.
	StopGrace time.Duration
	// StateDir, where set (steps 3 and 5), is where a container with no
	// PID namespace and no StopGrace marks its root and namespaces while
	// it runs (state.TrackStragglers): a workshop killed with SIGKILL
	// cannot kill what its command left running, and `workshop clean`
	// does, by the marker.
	StateDir string
	// PivotRoot swaps the root mount with pivot_root(2) and detaches the old
	// one, instead of chroot (step 6). It needs the mount namespace.
	PivotRoot bool
	// Sys gives the container a read-only /sys, as Docker's has (step 6),
	// where the root has a /sys directory, and under /sys/fs/cgroup its own
	// cgroup, CgroupViews, read-only. It needs the mount namespace.
	Sys         bool
	CgroupViews []CgroupView
	// DefaultCapabilities leaves the command only the capabilities Docker
	// gives a container by default (DefaultCapabilities), from the
	// bounding set (step 6). Without it, root of the container has every
	// capability in its namespaces: CAP_SYS_ADMIN to unmount the read-only
	// /proc/sys, say, which under the default map is the host's.
	DefaultCapabilities bool
	// Stdin, Stdout and Stderr are the command's. An *os.File is passed to
	// the command as it is (no copying); a terminal on Stdin is handed to
	// the container's process group, so Ctrl-C goes to the command.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// CgroupView is a directory of the container's cgroup and where the
// container sees it: In is "" for a v2 group (the whole of /sys/fs/cgroup),
// the hierarchy's name for a v1 one (/sys/fs/cgroup/memory).
type CgroupView struct {
	Host string // the group's directory, as the host sees it
	In   string
}

// IDMap is one line of /proc/PID/uid_map or gid_map (user_namespaces(7)):
// Count ids from Inside in the container are the ids from Outside on the host.
type IDMap struct {
	Inside, Outside, Count int
}

func (m IDMap) String() string { return fmt.Sprintf("%d %d %d", m.Inside, m.Outside, m.Count) }

// HostRange maps ids 0..count-1 of the container to host ids start..: root
// inside is host uid start, a user with no rights on the host.
func HostRange(start, count int) []IDMap { return []IDMap{{0, start, count}} }

// RootMap maps root inside to id outside, and nothing else: what unshare
// --map-root-user writes, with the caller's uid or gid.
func RootMap(id int) []IDMap { return []IDMap{{0, id, 1}} }

// DefaultRangeCount is the size of a HostRange when the user gives none: the
// 65536 ids a subordinate range has in /etc/subuid.
const DefaultRangeCount = 65536

// A namespace, as namespaces(7) lists them:
//
//	Namespace Flag            Page                  Isolates
//	Cgroup    CLONE_NEWCGROUP cgroup_namespaces(7)  Cgroup root directory
//	IPC       CLONE_NEWIPC    ipc_namespaces(7)     System V IPC, POSIX message queues
//	Network   CLONE_NEWNET    network_namespaces(7) Network devices, stacks, ports, etc.
//	Mount     CLONE_NEWNS     mount_namespaces(7)   Mount points
//	PID       CLONE_NEWPID    pid_namespaces(7)     Process IDs
//	Time      CLONE_NEWTIME   time_namespaces(7)    Boot and monotonic clocks
//	User      CLONE_NEWUSER   user_namespaces(7)    User and group IDs
//	UTS       CLONE_NEWUTS    uts_namespaces(7)     Hostname and NIS domain name
type namespace struct {
	Name string  // as --ns takes it
	Flag uintptr // the CLONE_NEW* flag
	Link string  // its name in /proc/PID/ns/
}

// All lists the seven namespaces of the walkthrough (and of --ns) in the
// order of unshare's options.
var all = []namespace{
	{"mount", unix.CLONE_NEWNS, "mnt"},
	{"uts", unix.CLONE_NEWUTS, "uts"},
	{"ipc", unix.CLONE_NEWIPC, "ipc"},
	{"net", unix.CLONE_NEWNET, "net"},
	{"pid", unix.CLONE_NEWPID, "pid"},
	{"user", unix.CLONE_NEWUSER, "user"},
	{"cgroup", unix.CLONE_NEWCGROUP, "cgroup"},
}

// Names returns the names --ns accepts, in order.
func Names() []string {
	names := make([]string, len(all))
	for i, ns := range all {
		names[i] = ns.Name
	}
	return names
}

// ParseNamespaces turns namespace names into CLONE_NEW* flags. Nil means
// all seven. "mnt" is accepted for "mount", as /proc/PID/ns names it.
func ParseNamespaces(names []string) (uintptr, error) {
	if names == nil {
		names = Names()
	}

	var flags uintptr
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		if name == "mnt" {
			name = "mount"
		}
		found := false
		for _, ns := range all {
			if ns.Name == name {
				flags |= ns.Flag
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%q is not a namespace workshop can make: choose from %s", raw, strings.Join(Names(), ","))
		}
	}
	return flags, nil
}

// flagNames lists the names of the namespaces in flags, in order.
func flagNames(flags uintptr) []string {
	var names []string
	for _, ns := range all {
		if flags&ns.Flag != 0 {
			names = append(names, ns.Name)
		}
	}
	return names
}

// defaultPath is the PATH of a container when the caller gives no Env: the
// one step 1 gives a command in a root, which is also the one Docker gives
// an image that sets none.
const defaultPath = chroot.DefaultPath

// defaultEnv is the environment of the command when Config.Env is nil. It
// does not leak workshop's own environment into the container (sudo's
// variables, the student's HOME…), except TERM, without which an interactive
// shell cannot draw.
func defaultEnv(hostname string) []string {
	env := []string{"PATH=" + defaultPath, "HOME=/root", "HOSTNAME=" + hostname}
	if term, ok := os.LookupEnv("TERM"); ok {
		env = append(env, "TERM="+term)
	}
	sort.Strings(env)
	return env
}

// check validates a configuration before anything is made, so that a
// mistake is one sentence and nothing to clean. n tells of the one check
// that makes system calls of its own (rootReachable's).
func (cfg *Config) check(n *sys.Narrator, flags uintptr) error {
	st, err := os.Stat(cfg.Root)
	switch {
	case err != nil:
		return fmt.Errorf("the root %s: %w", cfg.Root, err)
	case !st.IsDir():
		return fmt.Errorf("the root %s is not a directory", cfg.Root)
	}
	if len(cfg.Args) == 0 || cfg.Args[0] == "" {
		return fmt.Errorf("no command to run in the container")
	}
	if cfg.PivotRoot && flags&unix.CLONE_NEWNS == 0 {
		return fmt.Errorf("pivot_root needs the mount namespace: add mount to --ns")
	}
	if cfg.Hostname != "" && flags&unix.CLONE_NEWUTS == 0 {
		return fmt.Errorf("--hostname needs the uts namespace, or it would rename the host: add uts to --ns")
	}
	if cfg.Hostname != "" {
		if err := CheckHostname(cfg.Hostname); err != nil {
			return err
		}
	}
	for _, m := range append(append([]IDMap{}, cfg.UIDMap...), cfg.GIDMap...) {
		if m.Inside < 0 || m.Outside < 0 || m.Count < 1 {
			return fmt.Errorf("the id map %q is not valid: ids are not negative and a range holds at least one id", m.String())
		}
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		return rootReachable(n, cfg.Root, hostID(cfg.UIDMap), hostID(cfg.GIDMap))
	}
	return nil
}

// hostID is the host id a map gives the container's root (id 0), or -1
// where it maps none (the default map: whoever runs workshop).
func hostID(m []IDMap) int {
	for _, r := range m {
		if r.Inside == 0 {
			return r.Outside
		}
	}
	return -1
}

// rootReachable checks that the container's root, host uid and gid
// (-1: workshop's own), may reach root, entering every directory on the
// way: it mounts /proc and /dev there once it is that user. Under
// --map-users 100000 it is nobody on the host, and a 0700 directory above
// the root (a home, a state dir made so) stopped it with "permission
// denied" after the clone, a sentence that did not say where.
func rootReachable(n *sys.Narrator, root string, uid, gid int) error {
	if uid < 0 {
		uid = os.Geteuid()
	}
	if gid < 0 {
		gid = os.Getegid()
	}
	if uid == 0 {
		return nil // root: it enters any directory
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	// The kernel says: a lookup as that user (symlink chains and ".."
	// in their targets included, which a walk of paths would miss).
	n.Note("host uid %d is to be the container's root: a thread of workshop takes its ids, with no groups, and looks the root up as that user would (setgroups, setfsgid, setfsuid, then a stat of %s), to say now, not after the clone, whether a directory on the way is closed to it", uid, abs)
	if ok, err := reachableAs(abs, uid, gid); err != nil || ok {
		return err
	}
	// Not reachable: which directory is closed is found by walking the
	// path as given, entering each directory on the way (a symlink's
	// target in its stead), and then the path it resolves to.
	walks := [][]string{ancestors(abs)}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		walks = append(walks, ancestors(real))
	}
	for _, walk := range walks {
		for _, dir := range walk {
			var st unix.Stat_t
			if err := unix.Stat(dir, &st); err != nil {
				return fmt.Errorf("the root %s: %w", root, &os.PathError{Op: "stat", Path: dir, Err: err})
			}
			search := uint32(0o001)
			switch {
			case int(st.Uid) == uid:
				search = 0o100
			case int(st.Gid) == gid:
				search = 0o010
			}
			if st.Mode&search == 0 {
				if real, err := filepath.EvalSymlinks(dir); err == nil {
					dir = real // a symlink's: what chmod would change
				}
				return fmt.Errorf("host uid %d, the container's root, may not enter %s (mode %04o, owner uid %d), on the way to the root %s: let others enter it (sudo chmod o+x %s), or give a root it can reach",
					uid, dir, st.Mode&0o7777, st.Uid, root, hint.Quote(dir))
			}
		}
	}
	return fmt.Errorf("host uid %d, the container's root, may not reach the root %s: a directory on the way, through its symbolic links, does not let it in; give a root it can reach", uid, root)
}

// reachableAs reports whether uid and gid, with no supplementary groups (as
// the container's root has none), may look up dir and search it, as the
// kernel answers for a thread whose filesystem ids they are. setfsuid,
// setfsgid and setgroups change only the calling thread when called raw
// (Go's wrappers change every thread of the process): the check runs on a
// thread of its own, locked and never unlocked, which Go ends with the
// goroutine. A filesystem uid that is not 0 takes away root's
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH there. (The container's root
// also has those over files its own map covers: a directory owned by a
// mapped uid that only such a capability opens is refused here.)
func reachableAs(dir string, uid, gid int) (bool, error) {
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			done <- result{err: fmt.Errorf("setgroups: %w", e)}
			return
		}
		unix.RawSyscall(unix.SYS_SETFSGID, uintptr(gid), 0, 0)
		unix.RawSyscall(unix.SYS_SETFSUID, uintptr(uid), 0, 0)
		var st unix.Stat_t
		switch err := unix.Stat(dir+"/.", &st); {
		case err == nil:
			done <- result{ok: true}
		case errors.Is(err, unix.EACCES):
			done <- result{}
		default:
			done <- result{err: fmt.Errorf("the root %s: %w", dir, err)}
		}
	}()
	r := <-done
	return r.ok, r.err
}

// ancestors lists an absolute path's directories from / down to itself.
func ancestors(path string) []string {
	var dirs []string
	for d := path; ; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
		if d == "/" {
			return dirs
		}
	}
}

// CheckHostname refuses a --hostname the container should not get: longer
// than the kernel's 64 bytes, or not a hostname. The kernel takes any
// bytes; a shell prompt, /etc/hosts and every resolver expect RFC 1123's
// letters, digits and hyphens.
func CheckHostname(name string) error {
	if len(name) > 64 {
		return fmt.Errorf("the hostname %q is longer than the kernel's 64 characters", name)
	}
	if fault := hostnameFault(name); fault != "" {
		return fmt.Errorf("--hostname %q is not a hostname: %s; use letters, digits and hyphens, with dots between parts, none starting or ending with a hyphen (as in box or web-1.lab)", name, fault)
	}
	return nil
}

// validHostname reports whether name is a hostname by RFC 1123: labels of
// 1 to 63 letters, digits and hyphens, not starting or ending with a
// hyphen, joined by dots.
func validHostname(name string) bool { return hostnameFault(name) == "" }

// hostnameFault says which of validHostname's rules name breaks first, or
// "": "use letters" alone left the student to find the é or the space.
func hostnameFault(name string) string {
	if name == "" {
		return "it is empty"
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "a part between dots is empty (no dot at the start or end, none doubled)"
		case len(label) > 63:
			return fmt.Sprintf("each part between dots has at most 63 characters (RFC 1123), and %q has %d", label[:12]+"…", len(label))
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("%q starts or ends with a hyphen", label)
		}
		for i, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("it holds %s, which a hostname may not", sys.CharAt(label, i))
			}
		}
	}
	return ""
}
