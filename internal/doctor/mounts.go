package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/reexec"
	"golang.org/x/sys/unix"
)

// MountProbe is what a throwaway mount namespace could do.
type MountProbe struct {
	Setup     error // the probe could not start (no mount namespace, no private /)
	Overlay   error // mount("overlay", …)
	PivotRoot error // pivot_root(…)
}

// CallError is a syscall that failed, named as strace prints it.
type CallError struct {
	Call  string
	Errno unix.Errno
}

func (e *CallError) Error() string { return e.Call + " = " + failure(e.Errno) }
func (e *CallError) Unwrap() error { return e.Errno }

// checkMounts tries, in a mount namespace of its own so that nothing shows
// on the host, the two mounts step 6 makes: the overlay that is the
// container's root, and the pivot_root into it.
func checkMounts(h *Host) []Finding {
	if h.Euid != 0 {
		return []Finding{
			{Status: Skip, Name: "overlayfs", Detail: "not tried: mounting needs root"},
			{Status: Skip, Name: "pivot_root", Detail: "not tried: it needs root"},
		}
	}
	// The overlay's upper layer lives in the state dir, so try it on the
	// state dir's filesystem: in the state dir, or where it will be made
	// (its nearest existing parent), not in /tmp, which may be another
	// filesystem (a tmpfs takes an overlay that the state dir's may not).
	dir := ScratchDir(h.StateDir)
	if err := h.Writable(dir); err != nil {
		// The scratch directories could not be made: that says nothing of
		// the kernel's mounts, and the state dir's line says why.
		return bothMounts(Finding{Status: Skip, Detail: "not tried: the state dir cannot be written in (see its line)"})
	}
	p := h.TryMounts(dir)
	if madeNoDir(p.Setup) {
		// Its scratch directories found no room: that says nothing of
		// the kernel's mounts either, and the state dir's line says why.
		return bothMounts(Finding{Status: Skip, Detail: "not tried: no room for its scratch directories on the state dir's filesystem (see its line)"})
	}
	if p.Setup != nil {
		return bothMounts(Finding{Status: Fail, Detail: "no throwaway mount namespace: " + p.Setup.Error(),
			Fix: "workshop cannot make mounts here (inside a container?): use the classroom VM (vagrant up)"})
	}
	found := []Finding{overlayFinding(h, dir, p.Overlay), pivotRootFinding(p.PivotRoot)}
	if h.MountNSNotOurs != nil && h.MountNSNotOurs() {
		found = append([]Finding{mountNSFinding()}, found...)
	}
	return found
}

// madeNoDir says whether the probe's setup failed making a directory for
// want of room (ENOSPC, EDQUOT): a mkdir's, not the clone of its mount
// namespace, whose ENOSPC is a namespace limit.
func madeNoDir(err error) bool {
	if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EDQUOT) {
		return false
	}
	var ce *CallError
	var pe *os.PathError
	return errors.As(err, &ce) && strings.HasPrefix(ce.Call, "mkdir") || errors.As(err, &pe) && pe.Op == "mkdir"
}

// bothMounts is the same finding for the overlay and for pivot_root, when
// neither could be tried.
func bothMounts(f Finding) []Finding {
	o, r := f, f
	o.Name, r.Name = "overlayfs", "pivot_root"
	return []Finding{o, r}
}

func overlayFinding(h *Host, dir string, err error) Finding {
	const name = "overlayfs"
	if err == nil {
		return Finding{Status: OK, Name: name, Detail: "an overlay mounts with its upper layer in " + dir}
	}
	if errors.Is(err, unix.ENODEV) {
		listed := "not in " + h.Filesystems
		if hasFilesystem(h, "overlay") {
			listed = "listed in " + h.Filesystems + ", yet refused"
		}
		return Finding{Status: Warn, Name: name, Detail: fmt.Sprintf("%s (%s): step 6 copies the image instead, slower", err, listed),
			Fix: "sudo modprobe overlay; if there is no such module, use the classroom VM (vagrant up)"}
	}
	return Finding{Status: Fail, Name: name, Detail: err.Error(),
		Fix: fmt.Sprintf("the filesystem of %s cannot hold an overlay's upper layer (is it itself an overlay, inside a container?): give workshop --state-dir on ext4, xfs or tmpfs", dir)}
}

func pivotRootFinding(err error) Finding {
	const name = "pivot_root"
	switch {
	case err == nil:
		return Finding{Status: OK, Name: name, Detail: "pivot_root into a fresh tmpfs works"}
	case errors.Is(err, unix.EINVAL):
		return Finding{Status: Fail, Name: name, Detail: err.Error() + ": the current root is not a mount point (booted from an initramfs?)",
			Fix: "run workshop on a system with a real root filesystem: the classroom VM (vagrant up)"}
	case errors.Is(err, unix.EPERM):
		return Finding{Status: Fail, Name: name, Detail: err.Error(),
			Fix: "root was refused: inside a container or under a seccomp filter? use the classroom VM (vagrant up)"}
	}
	return Finding{Status: Fail, Name: name, Detail: err.Error(), Fix: "use the classroom VM (vagrant up)"}
}

// hasFilesystem reports whether /proc/filesystems lists fstype.
func hasFilesystem(h *Host, fstype string) bool {
	data, err := os.ReadFile(h.Filesystems)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[len(fields)-1] == fstype {
			return true
		}
	}
	return false
}

// mountsInit is the re-executed child of tryMounts.
const mountsInit = "doctor-mounts"

func init() {
	reexec.Register(mountsInit, runMountProbe)
}

// probeWire is a MountProbe as the child sends it to the parent.
type probeWire struct {
	Setup, Overlay, PivotRoot *CallError
}

func (w probeWire) probe() MountProbe {
	var p MountProbe
	// A nil *CallError must become a nil error, not a non-nil interface.
	if w.Setup != nil {
		p.Setup = w.Setup
	}
	if w.Overlay != nil {
		p.Overlay = w.Overlay
	}
	if w.PivotRoot != nil {
		p.PivotRoot = w.PivotRoot
	}
	return p
}

// tryMounts makes a scratch directory in dir, runs the probe in a new mount
// namespace, and removes the scratch directory. The mounts die with the
// child's namespace; the host never sees them.
func tryMounts(dir string) MountProbe {
	// What an earlier doctor killed halfway left: its mounts went with
	// its namespace, its directories stayed.
	for _, old := range StaleScratch(dir) {
		os.RemoveAll(old)
	}
	scratch, err := os.MkdirTemp(dir, scratchPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return MountProbe{Setup: err}
	}
	defer os.RemoveAll(scratch)
	cmd := exec.Command("/proc/self/exe", reexec.Arg, mountsInit, scratch)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return MountProbe{Setup: &CallError{Call: "clone(CLONE_NEWNS)", Errno: unix.Errno(errno)}}
		}
		return MountProbe{Setup: fmt.Errorf("the mount probe: %w", err)}
	}
	var w probeWire
	if err := json.Unmarshal(out.Bytes(), &w); err != nil {
		return MountProbe{Setup: fmt.Errorf("the mount probe's answer %q: %w", out.String(), err)}
	}
	return w.probe()
}

// runMountProbe runs in the child, in its own mount namespace, as root.
func runMountProbe() int {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "workshop: doctor-mounts needs a scratch directory")
		return 125
	}
	w := mountProbe(os.Args[3])
	if err := json.NewEncoder(os.Stdout).Encode(w); err != nil {
		fmt.Fprintf(os.Stderr, "workshop: doctor-mounts: %v\n", err)
		return 125
	}
	return 0
}

func mountProbe(scratch string) probeWire {
	var w probeWire
	// The new namespace starts with copies of the host's mounts, and on a
	// systemd host they are shared: a mount made under them would propagate
	// back to the host. Making every mount private first keeps the probe in
	// this namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		w.Setup = callError(`mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`, err)
		return w
	}

	lower, upper := filepath.Join(scratch, "lower"), filepath.Join(scratch, "upper")
	work, merged := filepath.Join(scratch, "work"), filepath.Join(scratch, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := unix.Mkdir(d, 0o755); err != nil {
			w.Setup = callError(fmt.Sprintf("mkdir(%q, 0755)", d), err)
			return w
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", mountopt.OverlayPath(lower), mountopt.OverlayPath(upper), mountopt.OverlayPath(work))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		w.Overlay = callError(fmt.Sprintf("mount(\"overlay\", %q, \"overlay\", 0, %q)", merged, opts), err)
	} else {
		unix.Unmount(merged, unix.MNT_DETACH)
	}

	// pivot_root needs the new root to be a mount point: a small tmpfs.
	root := filepath.Join(scratch, "root")
	if err := unix.Mkdir(root, 0o755); err != nil {
		w.Setup = callError(fmt.Sprintf("mkdir(%q, 0755)", root), err)
		return w
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=64k"); err != nil {
		w.PivotRoot = callError(fmt.Sprintf("mount(\"tmpfs\", %q, \"tmpfs\", 0, \"size=64k\")", root), err)
		return w
	}
	old := filepath.Join(root, "old")
	if err := unix.Mkdir(old, 0o755); err != nil {
		w.PivotRoot = callError(fmt.Sprintf("mkdir(%q, 0755)", old), err)
		return w
	}
	if err := unix.PivotRoot(root, old); err != nil {
		w.PivotRoot = callError(fmt.Sprintf("pivot_root(%q, %q)", root, old), err)
		return w
	}
	unix.Chdir("/")
	unix.Unmount("/old", unix.MNT_DETACH)
	return w
}

func callError(call string, err error) *CallError {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		errno = unix.EIO
	}
	return &CallError{Call: call, Errno: errno}
}
