package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/procmask"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/sys"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
	"golang.org/x/sys/unix"
)

// spec is what the parent sends the container's first process on fd 3.
type spec struct {
	Narration sys.Options
	ID        string
	Hostname  string // "" without a UTS namespace
	Root      string // absolute
	Args      []string
	Env       []string
	Flags     uintptr // the CLONE_NEW* flags asked for, cgroup included
	PivotRoot bool
	// Sys and CgroupViews are Config's.
	Sys         bool
	CgroupViews []CgroupView
	Init        bool
	// KeepCaps, when not empty, are the only capabilities the command may
	// have (Config.DefaultCapabilities); LastCap is the kernel's highest.
	KeepCaps []int
	LastCap  int
	// Terminal: stdin is a terminal, handed to this process group; if
	// not, the process is in a session of its own, without a controlling
	// terminal (see Start).
	Terminal bool
	HostNS   map[string]string // workshop's /proc/self/ns links, for the table
	HostPid  int               // workshop's pid
	// HintStateDir is the --state-dir the commands the init suggests must
	// carry (hint.SetStateDir): it never reads the command line.
	HintStateDir string
}

func (s *spec) has(flag uintptr) bool { return s.Flags&flag != 0 }

// oldRootName is where pivot_root puts the host's root, inside the new one,
// until it is detached.
const oldRootName = ".oldroot"

// OldRootName is oldRootName, for step 6: made in a container's writable
// layer, it is no change of the command's.
const OldRootName = oldRootName

func init() { reexec.Register(initName, containerInit) }

// containerInit is the container's first process: `workshop __init
// namespaces`, already in its new namespaces. It waits for the parent's
// go, sets the container up, one narrated syscall after the other, and
// becomes the command (or, with --init, runs it as its child).
func containerInit() int {
	// Capabilities and the parent-death signal belong to a thread, not to
	// the process: keep every call of the setup, and the final execve or
	// clone, on this one.
	runtime.LockOSThread()
	// A Go program dies of SIGINT, SIGTERM, SIGHUP and SIGQUIT with status
	// 2 and nothing said. As PID 1 of its own PID namespace, this process
	// gets them back to the kernel's default instead, which for a PID 1 is
	// to drop them: from before it reads its spec, it is the PID 1 its
	// command will be (and workshop, when interrupted itself, ends it with
	// SIGKILL). It holds them instead, to stop with a sentence and 128+n
	// before the command runs, where the default would kill it (outside a
	// PID namespace) and where a Ctrl-C comes to it rather than to
	// workshop (it was handed the terminal). Holding costs more, 0.4 ms:
	// os/signal starts a thread and waits for it.
	var held *reexec.Held
	var defaulted []sys.SavedAction
	if os.Getpid() == 1 && !slices.Contains(reexec.Args(), terminalArg) {
		defaulted = sys.DefaultSignals(stopSignals...)
	} else {
		held = reexec.HoldSignals()
	}

	var s spec
	if err := reexec.ReadSpec(&s); err != nil {
		// The parent died or gave up before releasing us.
		reexec.Say("the container's init got no spec: %v", err)
		return exit.ToolFailed
	}
	hint.SetStateDir(s.HintStateDir)
	rep := reexec.ExecReporter()
	n := sys.New(reexec.Stderr(), s.Narration).WithPid(os.Getpid())
	if err := n.Because("PID 1 gets no signal it has no handler for: until the command sets its own, Ctrl-C and kill pass it by").ReportSet(defaulted); err != nil {
		reexec.Say("setting up the container: %s", hint.Rewrite(err.Error()))
		return exit.ToolFailed
	}
	if err := setUp(n, &s); errors.Is(err, errParentGone) {
		reexec.Say("%s", hint.Rewrite(err.Error()))
		return exit.ToolFailed
	} else if err != nil {
		reexec.Say("setting up the container: %s", hint.Rewrite(err.Error()))
		return exit.ToolFailed
	}
	if status, stopped := held.Stopped(); stopped {
		return status
	}
	if s.Init {
		// The init passes signals on with handlers of its own: Go's
		// handlers go back in place for os/signal to use.
		held.Release()
		if err := n.RestoreSignals(defaulted); err != nil {
			reexec.Say("%v", err)
			return exit.ToolFailed
		}
		return runInit(n, &s, rep)
	}
	return execCommand(n, &s, rep)
}

// terminalArg, after "workshop __init namespaces", tells the child that it
// was handed the terminal: its process group gets the terminal's signals.
const terminalArg = "terminal"

// errParentGone stops a container whose workshop died while it was set up.
var errParentGone = errors.New("workshop died while the container was being set up: the command never ran ('workshop clean' removes what was made for it)")

// setUp is the lesson of step 3 as code: each namespace is put to use.
func setUp(n *sys.Narrator, s *spec) error {
	// A descriptor the student's shell left open (exec 7</etc) would be a
	// way out of the root for the command: none but 0, 1 and 2 reaches it.
	if err := n.CloseOnExecFrom(3); err != nil {
		return err
	}
	if s.has(unix.CLONE_NEWUSER) {
		if err := becomeRoot(n); err != nil {
			return err
		}
	}
	// If workshop dies, the kernel kills the container rather than leave it
	// running with nobody to wait for it. (Set here, after the uid change,
	// which clears it.)
	if err := n.Because("if workshop dies, the kernel kills this process").SetParentDeathSignal(unix.SIGKILL); err != nil {
		return err
	}
	// But if it died before that call, no signal will ever come, and the
	// container would run with nobody to wait for it or undo what it made.
	// workshop holds the other end of the status pipe: once it is dead,
	// the pipe says so.
	gone, err := reexec.ParentGone(n.Because("is workshop still there? Its end of this pipe closes when it dies"))
	if err != nil {
		return err
	}
	if gone {
		return errParentGone
	}
	if s.has(unix.CLONE_NEWUSER) {
		// The ambient capabilities that carried us through our own execve
		// must not reach the command: a container's processes should get
		// capabilities only the ordinary way, as root of their namespace.
		if err := n.ClearAmbientCaps(); err != nil {
			return err
		}
		if err := n.Because("Go filled the inheritable set for the ambient capabilities: emptied, as a command's is").ClearInheritableCaps(); err != nil {
			return err
		}
	}
	if s.has(unix.CLONE_NEWCGROUP) {
		// Made now, not at clone: see Start. The cgroup this process is in
		// now becomes the "/" it sees in /proc/self/cgroup.
		if err := n.Because("a new cgroup namespace, rooted at the cgroup we are in now").Unshare(unix.CLONE_NEWCGROUP); err != nil {
			if why := whyRefused(err); why != "" {
				return fmt.Errorf("%w%s; run 'workshop doctor' to see which namespaces this machine supports", err, why)
			}
			return err
		}
	}
	if s.has(unix.CLONE_NEWUTS) {
		if err := n.Sethostname(s.Hostname); err != nil {
			return err
		}
	} else {
		n.Note("no UTS namespace: the hostname stays the host's (setting it would rename the host)")
	}
	if s.has(unix.CLONE_NEWNS) {
		if err := mountAll(n, s); err != nil {
			return err
		}
	} else {
		n.Note("no mount namespace: nothing is mounted, since a mount here would be the host's; the root gets no /proc or /dev")
	}
	// A session keyring of its own: the one it inherited is the one of
	// whoever ran sudo workshop, whose keys the command could read.
	if err := n.Because("a new, empty session keyring: the inherited one holds the keys of whoever ran workshop").JoinNewSessionKeyring(); err != nil {
		if !errors.Is(err, unix.ENOSYS) {
			return err
		}
		n.Note("this kernel has no keyrings (ENOSYS): none to inherit")
	}
	switch {
	case s.Flags&^unix.CLONE_NEWCGROUP == 0 && len(s.KeepCaps) == 0: // a cgroup namespace guards nothing
		what := "no namespace at all: a plain chroot"
		if s.has(unix.CLONE_NEWCGROUP) {
			what = "no namespace but the cgroup one, which changes only how the command reads its cgroup's path: in effect a plain chroot"
		}
		n.Note("%s, run as the host's root, with every capability the host's root has (mknod a disk, mount, load a module): only the chroot stands between it and the host, and step 1's escape climbs out of that", what)
	case !s.has(unix.CLONE_NEWUSER) && len(s.KeepCaps) == 0:
		n.Note("no user namespace: root in the container is the host's root, with every capability the host's root has (mknod a disk, mount, load a module): only the other namespaces stand between it and the host")
	case !s.has(unix.CLONE_NEWUSER):
		n.Note("no user namespace: root in the container is the host's root; its capabilities are cut to Docker's below (without CAP_MKNOD: a device node for the host's disk would be the disk), and the seccomp filter below keeps it from making a user namespace of its own, where it would have every capability again")
	}
	if err := showNamespaces(n, s); err != nil {
		return err
	}
	if err := enterRoot(n, s); err != nil {
		return err
	}
	return dropCapabilities(n, s)
}

// DefaultCapabilities are those Docker leaves a container by default
// (moby's oci/caps): enough for a root that installs packages and runs
// servers; not CAP_SYS_ADMIN (mount, umount: the read-only /proc/sys
// could be unmounted, or another /proc or a cgroup tree mounted), not
// CAP_SYS_PTRACE (an --init's descriptors, through /proc/1/fd), nor the
// rest.
var DefaultCapabilities = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER, unix.CAP_MKNOD,
	unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETFCAP, unix.CAP_SETPCAP,
	unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE,
}

// dropCapabilities takes from the bounding set every capability s.KeepCaps
// does not name: the command, root of its user namespace, gets only those
// at its execve (and so does every program after it). Last, once the
// setup that needed them is done.
func dropCapabilities(n *sys.Narrator, s *spec) error {
	if len(s.KeepCaps) == 0 {
		return nil
	}
	keep := make([]string, len(s.KeepCaps))
	for i, c := range s.KeepCaps {
		keep[i] = sys.CapName(c)
	}
	if !s.has(unix.CLONE_NEWUSER) {
		// With a user namespace both were emptied already (setUp). Without
		// one, whatever workshop's caller put there would pass through:
		// root's execve gives back every capability of its inheritable
		// set, bounding set or not, and all of its ambient set.
		if err := n.ClearAmbientCaps(); err != nil {
			return err
		}
		if err := n.Because("emptied: a root's execve gives back every capability of its inheritable set, whatever the bounding set says").ClearInheritableCaps(); err != nil {
			return err
		}
	}
	but := ""
	if !s.has(unix.CLONE_NEWUSER) {
		but = " but CAP_MKNOD, which without a user namespace could make a node for the host's disk (Docker's devices cgroup refuses such opens; workshop makes none)"
	}
	n.Note("the command keeps only the capabilities Docker gives a container%s (%s): the others go from the bounding set, which a root's execve cannot exceed", but, strings.Join(keep, ", "))
	for c := 0; c <= s.LastCap; c++ {
		if slices.Contains(s.KeepCaps, c) {
			continue
		}
		if err := n.DropBoundingCap(c); err != nil {
			return err
		}
	}
	return installFilter(n)
}

// installFilter installs the command's seccomp filter. It makes
// ioctl(TIOCSTI) and ioctl(TIOCLINUX) fail: the container may have the
// student's terminal (its controlling terminal, in the student's session),
// and TIOCSTI pushes characters into its input as if typed: an image's
// program could queue "rm -rf ~" and a newline for the shell that reads the
// terminal once the container has ended (TIOCLINUX pastes on a virtual
// console). The kernel allows it on one's own controlling terminal,
// capabilities or not, where dev.tty.legacy_tiocsti is 1. Docker gives a
// container a terminal of its own instead (a new pseudo-terminal); a
// filter is the smaller change. And it keeps the command from making a
// user namespace, where it would have every capability again, over
// namespaces of its own: without a user namespace (--ns without user),
// nothing else stops it; with one, max_user_namespaces is 0 already
// (setUp), and the filter is a second lock, as in Docker's filter.
func installFilter(n *sys.Narrator) error {
	err := n.Because("a seccomp filter: the command's ioctl(TIOCSTI), which would type into the terminal for the shell that reads it after the container, and ioctl(TIOCLINUX) fail with EPERM, and so do clone and unshare with CLONE_NEWUSER (a user namespace of its own would give it every capability again, there); clone3, whose flags a filter cannot read, fails with ENOSYS, and the C library falls back to clone").
		InstallFilter(sys.Filter{Ioctls: []uint32{unix.TIOCSTI, unix.TIOCLINUX}, NoUserNamespace: true})
	if errors.Is(err, sys.ErrNoFilter) {
		n.Note("%v: the command may push keystrokes into the terminal with ioctl(TIOCSTI), and, without a user namespace, make one", err)
		return nil
	}
	return err
}

// becomeRoot makes this process root of its user namespace. With the
// default map ("0 <our uid> 1") it already is. With a host range
// ("0 100000 65536") our host uid 0 is not in the map, so we are nobody
// (65534) inside until we set our ids to 0 (host uid 100000): the
// capabilities the namespace gave us allow it.
func becomeRoot(n *sys.Narrator) error {
	if os.Getuid() == 0 && os.Getgid() == 0 {
		return nil
	}
	// Go makes these calls on every thread of the process, so that no
	// thread keeps the old ids: strace shows each as many times.
	n.Note("this process's host ids are not in the map, so inside it is uid %d: it becomes uid 0 of the namespace (Go makes each of the calls below on every thread of the process, so that none keeps the old ids: printed once)", os.Getuid())
	if err := n.Setresgid(0, 0, 0); err != nil {
		return err
	}
	// Drop host root's supplementary groups, which the map does not show
	// (unless setgroups was denied, as with the default map).
	if b, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(b)) == "allow" {
		if err := n.Setgroups([]int{}); err != nil {
			return err
		}
	}
	return n.Setresuid(0, 0, 0)
}

// mountAll makes the container's mounts, inside its mount namespace only.
func mountAll(n *sys.Narrator, s *spec) error {
	// A new mount namespace starts as a copy of the host's, and on a
	// systemd host "/" is a shared mount: without a user namespace, a
	// mount made under it would propagate back to the host's namespace
	// (mount_namespaces(7), "shared subtrees"); with one, the kernel makes
	// the copies slaves already, and the host's mounts still flow in.
	// Making every mount private first stops both ways.
	// (The source of a propagation change is ignored; "none" is what
	// mount --make-rprivate / passes.)
	if err := n.Because("make every mount private: nothing we mount propagates to the host, and nothing the host mounts propagates in").Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if s.PivotRoot {
		// pivot_root needs the new root to be a mount point of this
		// namespace's own: a directory is none, and a mount copied from
		// the host's namespace into one a user namespace owns (full run's
		// overlay) is locked there, which pivot_root refuses (EINVAL).
		// Bound onto itself (with MS_REC, so mounts already under it come
		// along), it is one.
		if err := n.Because("pivot_root needs a mount point this namespace may move: bind the root onto itself (the overlay, copied from the host's namespace, is locked here)").Mount(s.Root, s.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
	}
	procMounted, err := mountProc(n, s)
	if err != nil {
		return err
	}
	if err := makeDev(n, filepath.Join(s.Root, "dev"), s.Terminal); err != nil {
		return err
	}
	if procMounted {
		if err := maskProc(n, s); err != nil {
			return err
		}
	}
	if !s.Sys {
		return nil
	}
	return mountSys(n, s)
}

// mountSys gives the container a /sys as Docker's: the kernel's sysfs,
// read-only (its network devices are the network namespace's, but much of
// it is the whole machine's, and under the default map the container's
// root is the host's), the parts runc hides (procmask.SysPaths) masked,
// and under /sys/fs/cgroup the container's own cgroup, read-only: the
// limits step 4 wrote, readable from inside (cat /sys/fs/cgroup/memory.max)
// and not writable (a cgroup file checks no capability, only its owner,
// host root: the container would raise its own limits).
func mountSys(n *sys.Narrator, s *spec) error {
	dir := filepath.Join(s.Root, "sys") // a directory: prepareRoot saw to it
	if s.has(unix.CLONE_NEWUSER) && !s.has(unix.CLONE_NEWNET) {
		n.Note("no network namespace: a user namespace may mount a sysfs only for a network namespace it owns, so the container gets no /sys")
		return nil
	}
	const ro = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := n.Because("a /sys, read-only: its network devices are this network namespace's, much of the rest the whole machine's").Mount("sysfs", dir, "sysfs", ro, ""); err != nil {
		if errors.Is(err, unix.EPERM) && s.has(unix.CLONE_NEWUSER) {
			// As for /proc (mountProc): a user namespace may mount a
			// sysfs only where the one it sees hides nothing, as inside
			// another container, which masks parts of it, it does not.
			n.Note("the kernel lets a user namespace mount a sysfs only where the /sys it sees hides nothing (inside another container, parts of it are covered): the container gets no /sys")
			return nil
		}
		return err
	}
	for _, name := range procmask.SysPaths {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := n.Because("/sys/"+name+" is the host's hardware: an empty, read-only tmpfs over it").Mount("tmpfs", p, "tmpfs", ro, ""); err != nil {
			return err
		}
	}
	return mountCgroupViews(n, s.CgroupViews, filepath.Join(dir, "fs", "cgroup"))
}

// mountCgroupViews shows the container its own cgroup under dst
// (/sys/fs/cgroup): the group's directory bound there, read-only; on v1,
// one directory per hierarchy, in a tmpfs made read-only once they are in.
func mountCgroupViews(n *sys.Narrator, views []CgroupView, dst string) error {
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	bind := func(v CgroupView, at string) error {
		if err := n.Because("the container's own cgroup: its limits, readable from inside").Mount(v.Host, at, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		return n.Because("read-only: a cgroup file checks only its owner, host root, and the container would raise its own limits").Mount(v.Host, at, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|flags, "")
	}
	switch {
	case len(views) == 0:
		return nil
	case len(views) == 1 && views[0].In == "":
		return bind(views[0], dst)
	}
	if err := n.Because("cgroup v1: a directory per hierarchy, in a tmpfs of their own").Mount("tmpfs", dst, "tmpfs", flags, "mode=755"); err != nil {
		return err
	}
	for _, v := range views {
		at := filepath.Join(dst, v.In)
		if err := n.Mkdir(at, 0o755); err != nil {
			return err
		}
		if err := bind(v, at); err != nil {
			return err
		}
	}
	return n.Because("the tmpfs read-only too, once its directories are in").Mount("tmpfs", dst, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY|flags, "mode=755")
}

// mountProc mounts a procfs for the container: /proc shows the processes of
// the PID namespace of the process that mounts it, so `ps` inside sees
// only the container. It says whether it mounted one.
func mountProc(n *sys.Narrator, s *spec) (bool, error) {
	if s.has(unix.CLONE_NEWUSER) && !s.has(unix.CLONE_NEWPID) {
		n.Note("no PID namespace: a user namespace may mount /proc only for a PID namespace it owns, so the root gets no /proc; the command still sees the host's processes' ids, and may signal those its uid may")
		return false, nil
	}
	if !s.has(unix.CLONE_NEWPID) {
		n.Note("no PID namespace: this /proc shows every process of the host, and the command may signal any of them its uid may (root: all of them)")
	}
	const procFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := n.Because("a /proc for this PID namespace").Mount("proc", filepath.Join(s.Root, "proc"), "proc", procFlags, ""); err != nil {
		if over := doctor.ProcOvermounts(); errors.Is(err, unix.EPERM) && s.has(unix.CLONE_NEWUSER) && len(over) > 0 {
			return false, fmt.Errorf("%w: the kernel lets a user namespace mount a /proc of its own only where the /proc it sees hides nothing, and files of this one are mounted over (%s, as lxcfs does in an LXC container): leave the user namespace out (--ns mount,uts,ipc,net,pid,cgroup), or run on a host without them", err, strings.Join(over, ", "))
		}
		return false, err
	}
	// A command left only Docker's capabilities gets them all back in a
	// user namespace it makes itself, and there may mount a cgroup tree
	// of its own (on v1) and raise its own limits, whose files its root,
	// uid 0 outside, may write. No more user namespaces, then, below this
	// one: the setting is this user namespace's own (not the host's), and
	// the command, without CAP_SYS_RESOURCE and with /proc/sys read-only,
	// cannot raise it again. (Docker forbids the same with seccomp.)
	if len(s.KeepCaps) > 0 && s.has(unix.CLONE_NEWUSER) {
		p := filepath.Join(s.Root, "proc", "sys", "user", "max_user_namespaces")
		if err := n.Because("this user namespace's own limit: none may be made inside it, where a command would have every capability again").WriteFile(p, []byte("0")); err != nil {
			return true, err
		}
	}
	// Some of /proc is the whole kernel's, not the namespace's: a file of
	// /proc/sys (vm.swappiness, kernel.core_pattern…) is checked by uid,
	// and under sudo the default map makes root inside uid 0 outside.
	// Read-only, as Docker has them: bound onto themselves, then that
	// bind remounted read-only (with the flags /proc has repeated: a
	// remount sets the flags anew, and would clear nosuid, nodev and
	// noexec).
	// So are the other parts runc and Docker make read-only, whose files
	// are the host's too: /proc/irq (where a write moves the host's
	// interrupts to other CPUs), /proc/bus (PCI devices), /proc/fs.
	for _, name := range []string{"sys", "sysrq-trigger", "irq", "bus", "fs"} {
		p := filepath.Join(s.Root, "proc", name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := n.Because("/proc/"+name+" is the whole kernel's: bind it onto itself, to make that bind read-only").Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return true, err
		}
		if err := n.Because("read-only: no write through this mount reaches the host's kernel (step 3's root, with CAP_SYS_ADMIN, could still unmount it)").Mount(p, p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|procFlags, ""); err != nil {
			return true, err
		}
	}
	return true, nil
}

// maskProc hides procmask.Paths as runc does: a file gets the container's
// /dev/null bound over it (reads are empty), a directory an empty,
// read-only tmpfs. Like /proc/sys's read-only bind, it is a mount of the
// container's own mount namespace: a root with CAP_SYS_ADMIN there (step
// 3's) may unmount it; step 6's command has no such capability.
func maskProc(n *sys.Narrator, s *spec) error {
	null := filepath.Join(s.Root, "dev", "null")
	for _, name := range procmask.Paths {
		p := filepath.Join(s.Root, "proc", name)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = n.Because("/proc/"+name+" is the host's: an empty, read-only tmpfs over it").Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		} else {
			err = n.Because("/proc/"+name+" is the host's: /dev/null over it, so it reads empty").Mount(null, p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// showNamespaces prints the namespace table: workshop's (sent by the parent)
// beside this process's own.
func showNamespaces(n *sys.Narrator, s *spec) error {
	if n.Options().Quiet {
		return nil // the table is narration: nothing to show it to
	}
	mine, err := readNamespaces("self")
	if err != nil {
		return err
	}
	printTable(n.Writer(), s.HostPid, s.HostNS, os.Getpid(), mine)
	return nil
}

// enterRoot makes the root directory the container's "/": chroot(2) as the
// walkthrough does, or pivot_root(2), which also takes the host's root out of
// reach (step 1's escape climbs out of a chroot, not out of a pivot_root).
func enterRoot(n *sys.Narrator, s *spec) error {
	if !s.PivotRoot {
		if err := n.Chroot(s.Root); err != nil {
			return err
		}
		return n.Chdir("/")
	}
	if err := n.PivotRoot(s.Root, filepath.Join(s.Root, oldRootName)); err != nil {
		return err
	}
	if err := n.Chdir("/"); err != nil {
		return err
	}
	old := "/" + oldRootName
	if err := n.Because("detach the host's root: nothing of it stays reachable").Unmount(old, unix.MNT_DETACH); err != nil {
		return err
	}
	if err := n.Rmdir(old); err != nil {
		// Harmless (it is an empty directory now), and expected when root
		// inside may not write to a root owned by host root.
		n.Note("%s stays, empty: %v", old, errors.Unwrap(err))
	}
	return nil
}

// execCommand replaces this process with the command: the container's
// PID 1 becomes the command itself, as with unshare --fork.
func execCommand(n *sys.Narrator, s *spec, rep *sys.ExecReporter) int {
	path, err := lookPath(s.Args[0], pathOf(s.Env))
	if err != nil {
		reexec.Say("%v", err)
		return exit.NotFound
	}
	err = n.Execve(path, s.Args, s.Env, rep)
	return execFailed(s.Args[0], err)
}

// execFailed says why the command could not run and returns its exit code:
// 127 when it is not there, 126 when it cannot be executed.
func execFailed(name string, err error) int {
	if why := chroot.MissingWhy(err); why != "" {
		reexec.Say("%s: cannot start: no such file or directory%s", name, why)
		return exit.NotFound
	}
	if errors.Is(err, unix.ENOENT) {
		reexec.Say("%s: not found in the container's root (or its interpreter or libraries are missing there)", name)
		return exit.NotFound
	}
	reexec.Say("%s: cannot be executed: %v%s", name, errors.Unwrap(err), chroot.DeniedWhy(err))
	return exit.CannotInvoke
}
