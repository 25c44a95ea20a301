package namespaces

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// devices are the nodes of a minimal /dev, with their numbers from the
// kernel's Documentation/admin-guide/devices.txt: what programs open
// without asking (a shell's redirections to /dev/null, a library's reads of
// /dev/urandom, a terminal program's /dev/tty).
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3},
	{"zero", 1, 5},
	{"full", 1, 7},
	{"random", 1, 8},
	{"urandom", 1, 9},
	{"tty", 5, 0},
}

// devLinks are the conventional links of /dev to a process's own files.
var devLinks = []struct{ name, target string }{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// makeDev gives the root a /dev of its own: a fresh tmpfs holding only the
// devices above, never the host's whole /dev (its disks, its memory).
//
// Real root creates the nodes with mknod. Inside a user namespace the
// kernel refuses (a device node would open the host's hardware to a fake
// root), so the host's nodes are bind-mounted onto empty files instead,
// as rootless runtimes do.
//
// /dev/tty, the process's controlling terminal, is left out when the
// container was not handed the terminal (withTTY false): it is in a
// session of its own then, with no controlling terminal, and a program
// that opens /dev/tty is better told there is none (ENOENT) than that
// the device does not work (ENXIO).
func makeDev(n *sys.Narrator, dev string, withTTY bool) error {
	if err := n.Because("a fresh, empty /dev for the container").Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	// mknod's mode is filtered by the umask like any new file's: clear it
	// so the nodes are 0666, as on the host.
	old := n.Umask(0)
	defer n.Umask(old)

	bind := false
	for i, d := range devices {
		if d.name == "tty" && !withTTY {
			n.Note("no /dev/tty: the container does not have the terminal (workshop runs in the background or in a pipeline, or its input is no terminal), and is in a session of its own, without a controlling terminal")
			continue
		}
		p := filepath.Join(dev, d.name)
		if !bind {
			err := n.Mknod(p, unix.S_IFCHR|0o666, d.major, d.minor)
			if err == nil {
				continue
			}
			if i > 0 || !errors.Is(err, unix.EPERM) {
				return err
			}
			n.Note("inside a user namespace the kernel refuses to create device nodes: bind-mount the host's instead")
			bind = true
		}
		if err := n.CreateFile(p, 0o666); err != nil {
			return err
		}
		if err := n.Mount(filepath.Join("/dev", d.name), p, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	if withTTY {
		if err := bindConsole(n, dev); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if err := n.Symlink(l.target, filepath.Join(dev, l.name)); err != nil {
			return err
		}
	}
	return specialFilesystems(n, dev)
}

// bindConsole makes the terminal the container has /dev/console, as runc
// binds a container's console there. The command reads the host's
// /dev/pts/N, which the container's own devpts has not: without a name
// for it under /dev, ttyname finds none (tty says "not a tty"). The
// bind's source is the terminal's path, as fd 0 names it, in this mount
// namespace's copy of the host's tree (before pivot_root): a bind of fd 0
// itself (/proc/self/fd/0) is refused, its mount being the host
// namespace's. A terminal whose path does not lead back to it is left
// out, with a note.
func bindConsole(n *sys.Narrator, dev string) error {
	source, err := os.Readlink("/proc/self/fd/0")
	var fd0, named unix.Stat_t
	if err == nil {
		err = unix.Fstat(0, &fd0)
	}
	if err == nil {
		err = unix.Stat(source, &named)
	}
	if err != nil || fd0.Rdev != named.Rdev || fd0.Ino != named.Ino || fd0.Dev != named.Dev {
		n.Note("no /dev/console: the terminal's path (%s) does not lead to it here; tty will say \"not a tty\"", source)
		return nil
	}
	p := filepath.Join(dev, "console")
	if err := n.CreateFile(p, 0o600); err != nil {
		return err
	}
	return n.Because("the terminal the container has, under a name it can see (ttyname, tty)").
		Mount(source, p, "", unix.MS_BIND, "")
}

// specialFilesystems gives /dev the two filesystems programs expect there,
// as Docker's /dev has them: /dev/shm, where POSIX shared memory and
// semaphores live (shm_open, sem_open: Python's multiprocessing locks), a
// tmpfs of the container's own; and /dev/pts, a devpts instance of its own
// (newinstance), where programs that open /dev/ptmx (script, ssh, tmux)
// get their pseudo-terminals, without seeing the host's. A kernel that
// refuses one costs the container only that one: said, not fatal.
func specialFilesystems(n *sys.Narrator, dev string) error {
	for _, fs := range []struct {
		dir, source, fstype, options, why string
		mode                              uint32
		flags                             uintptr
	}{
		{"shm", "shm", "tmpfs", "mode=1777,size=65536k", "POSIX shared memory and semaphores live in /dev/shm", 0o1777, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620", "a devpts of the container's own, for the pseudo-terminals of /dev/ptmx", 0o755, unix.MS_NOSUID | unix.MS_NOEXEC},
	} {
		p := filepath.Join(dev, fs.dir)
		if err := n.Mkdir(p, fs.mode); err != nil {
			return err
		}
		if err := n.Because(fs.why).Mount(fs.source, p, fs.fstype, fs.flags, fs.options); err != nil {
			n.Note("the kernel refused it: the container has an empty %s", p)
			continue
		}
		if fs.dir == "pts" {
			if err := n.Symlink("pts/ptmx", filepath.Join(dev, "ptmx")); err != nil {
				return err
			}
		}
	}
	return nil
}
