package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// Layer is a container's root: the image's rootfs seen through an overlay
// whose upper layer holds everything the container writes.
type Layer struct {
	Lower, Upper, Work, Merged string
	// Copied is true where overlayfs was missing and the image was copied
	// into Merged instead (slow, but the lesson still runs).
	Copied bool
}

// overlayType is the filesystem type MountLayer mounts: a variable, so
// that a test can name one the kernel lacks (ENODEV) and take the copy.
var overlayType = "overlay"

// layerFlags are the overlay's mount flags. MS_NODEV: an image may hold
// device nodes (import keeps them where workshop is real root), and the
// overlay is mounted by the host's root, in the host's user namespace, so
// the kernel would let the container open them, whatever namespace it is
// in: a node for the host's disk, 254:0 or 8:0, planted in an image, would
// be the disk, readable and writable by the container's root (uid 0 of the
// host under the default map). Docker's devices cgroup stops the same; the
// container's own devices are the /dev made for it, a mount of its own.
const layerFlags = unix.MS_NODEV

// MountLayer makes dir/upper, dir/work and dir/rootfs and mounts the overlay
// on dir/rootfs. The image itself is never copied, unless the kernel has no
// overlayfs, and then the student is told.
//
// A throwaway layer (one removed when the run ends) is mounted volatile
// (Linux 5.10): overlayfs then never syncs the upper layer's filesystem.
// Without it, the unmount at the end of every run syncs the whole
// filesystem the state dir is on, everything any program wrote there: 0.3ms
// on a quiet machine, 50ms with 200MB of someone's build not yet written.
// The price, losing the layer's writes if the machine crashes, is none for
// a layer that is removed anyway. A kept layer is mounted without it.
func MountLayer(n *sys.Narrator, lower, dir string, throwaway bool) (*Layer, error) {
	l := newLayer(lower, dir)
	opts := l.options(throwaway)
	if err := l.fits(throwaway); err != nil {
		return nil, err
	}
	for _, d := range []string{l.Upper, l.Work, l.Merged} {
		if err := n.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	why := "the container's root: the image below, its own writable layer on top; nodev: a device node in it opens nothing"
	var err error
	if throwaway {
		err = n.Because(why+"; volatile: never synced, it is removed after the run").
			Mount("overlay", l.Merged, overlayType, layerFlags, opts)
	}
	if !throwaway || errors.Is(err, unix.EINVAL) {
		err = n.Because(why).Mount("overlay", l.Merged, overlayType, layerFlags, l.options(false))
		if throwaway && err == nil {
			n.Note("this kernel's overlayfs refused the volatile option (it came in Linux 5.10): mounted without it")
		}
	}
	if err == nil {
		return l, nil
	}
	switch {
	case errors.Is(err, unix.EINVAL):
		return nil, fmt.Errorf("%w: overlayfs refused these directories; the state dir's filesystem may not hold an upper layer "+
			"(an overlay itself, as in a container, or NFS): give a --state-dir on ext4, xfs or tmpfs ('workshop doctor' tries it)", err)
	case errors.Is(err, unix.EPERM) && doctor.MountNSNotOurs():
		return nil, fmt.Errorf("%w: workshop runs as root of a user namespace, in a mount namespace that is not that user namespace's, where the kernel refuses it every mount: give the user namespace a mount namespace of its own (unshare --user --map-root-user --mount …), or run workshop as the host's root", err)
	case !errors.Is(err, unix.ENODEV):
		return nil, fmt.Errorf("%w (is overlayfs available? run 'workshop doctor')", err)
	}
	n.Note("this kernel has no overlayfs: copying the image into %s instead (slower; every run gets a full copy)", l.Merged)
	l.Copied = true
	st, err := copyTree(lower, l.Merged)
	if st.entries() > 0 {
		n.Note("copied %s: the image's tree read (openat, getdents64, newfstatat, readlinkat), each entry made (mkdirat; openat, copy_file_range and close; symlinkat; mknodat), then given its owner and mode (fchownat, fchmodat): summarised here, not printed one by one%s",
			st.counts(), st.skippedNote())
	}
	if err != nil {
		return nil, fmt.Errorf("copy the image: %w", err)
	}
	return l, nil
}

// Unmount detaches the overlay; it is safe to call on a copied layer.
func (l *Layer) Unmount(n *sys.Narrator) error {
	if l.Copied {
		return nil
	}
	err := n.Unmount(l.Merged, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil // not mounted: already gone
	}
	return err
}

// copyStats counts what copyTree made, for its one summary line.
type copyStats struct {
	dirs, files, links, fifos int
	skipped                   []string // device nodes and sockets, not copied
}

func (s copyStats) entries() int { return s.dirs + s.files + s.links + s.fifos }

// counts is what was copied, in words: "3 directories, 2 files and 1 symlink".
func (s copyStats) counts() string {
	parts := []string{plural(s.dirs, "directory"), plural(s.files, "file"), plural(s.links, "symlink")}
	if s.fifos > 0 {
		parts = append(parts, plural(s.fifos, "fifo"))
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func (s copyStats) skippedNote() string {
	if len(s.skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("; left out %s (%s), device nodes or sockets: the copy is on the state dir's filesystem, where a device node would open the device, and the container gets its own /dev", plural(len(s.skipped), "entry"), strings.Join(firstFew(s.skipped, 3), ", "))
}

func firstFew(names []string, k int) []string {
	if len(names) <= k {
		return names
	}
	return append(names[:k:k], "…")
}

// copyTree copies a directory tree, keeping modes, owners and symlinks: the
// fallback where overlayfs is missing. The copy must be the image as the
// container would see it through an overlay: the owner first, then the
// mode (chown clears setuid and setgid), with its special bits (the sticky
// /tmp, a setuid program) and unnarrowed by the umask. Fifos are made
// anew; device nodes and sockets are left out (the overlay is nodev, which
// a copy on the state dir's filesystem is not).
func copyTree(src, dst string) (copyStats, error) {
	var st copyStats
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			if rel != "." {
				st.dirs++
			}
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			st.links++
		case info.Mode().IsRegular():
			if err := copyFile(path, target); err != nil {
				return err
			}
			st.files++
		case info.Mode()&fs.ModeNamedPipe != 0:
			if err := unix.Mkfifo(target, 0o600); err != nil {
				return &os.PathError{Op: "mkfifo", Path: target, Err: err}
			}
			st.fifos++
		default:
			st.skipped = append(st.skipped, "/"+rel)
			return nil
		}
		if owner, ok := info.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(target, int(owner.Uid), int(owner.Gid)); err != nil {
				return err
			}
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return nil // a link has no mode of its own
		}
		return os.Chmod(target, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	})
	return st, err
}

// copyFile copies a regular file's content; copyTree sets its owner and mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// newLayer names the directories of a layer made in dir over lower.
func newLayer(lower, dir string) *Layer {
	return &Layer{
		Lower:  lower,
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
		Merged: filepath.Join(dir, "rootfs"),
	}
}

// options are the overlay's mount options. lowerdir is read-only:
// overlayfs copies a file up into upperdir the first time the container
// writes it. workdir is overlayfs's scratch space and must be on the same
// filesystem as upperdir. A throwaway layer is volatile (see MountLayer).
func (l *Layer) options(throwaway bool) string {
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", mountopt.OverlayPath(l.Lower), mountopt.OverlayPath(l.Upper), mountopt.OverlayPath(l.Work))
	if throwaway {
		opts += ",volatile"
	}
	return opts
}

// fits refuses a layer whose options the kernel would cut: it reads at
// most one page of a mount's options, and a mount with its paths cut short
// fails with ENOENT, which would be blamed on overlayfs.
func (l *Layer) fits(throwaway bool) error {
	if n := len(l.options(throwaway)); n >= os.Getpagesize() {
		return fmt.Errorf("the overlay's options name three directories of the state dir in %d bytes, more than the %d the kernel reads: "+
			"give a shorter --state-dir", n, os.Getpagesize())
	}
	return nil
}

// LayerFits says, before anything is made, whether a layer of a container
// of stateDir fits the kernel's page of mount options: the image and
// container ids have fixed lengths, so only the state dir's path varies.
func LayerFits(stateDir string, throwaway bool) error {
	lower := imagetar.OpenStore(stateDir).RootfsOf(strings.Repeat("0", 64))
	dir := filepath.Join(state.ContainersDir(stateDir), strings.Repeat("0", ids.Len))
	return newLayer(lower, dir).fits(throwaway)
}
