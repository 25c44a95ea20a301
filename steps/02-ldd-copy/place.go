package lddcopy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/rootmark"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	"golang.org/x/sys/unix"
)

// copier puts host files at the same paths inside a root.
//
// Every path it writes to is one it resolved itself inside the root, so a
// symlink in the root (bin -> usr/bin, or an absolute one a student made)
// is followed the way the chroot will follow it, never out to the host.
// A file is always created with O_NOFOLLOW, and an existing symlink in its
// place is removed first: nothing is ever written through a link.
type copier struct {
	n    *sys.Narrator
	root string // absolute

	done map[string]bool   // host paths placed, and root paths written
	dirs map[string]string // host directory -> the same directory in the root

	copied, linked, made, upToDate int

	// stop gets the stop signals (Ctrl-C…) while the copy runs: it ends
	// at the next file or chunk, its half-made file removed, rather than
	// be killed with that file left in the root (Populate).
	stop <-chan os.Signal

	// unmarked: the root's filesystem keeps no extended attribute (the
	// first copy's fsetxattr failed), and the rest are not tried.
	unmarked bool
}

// mark puts workshop's mark on a copy (rootmark): the exercises' checks
// tell a program workshop copied from one copied by hand. Where the
// filesystem keeps no such attribute, the copies go unmarked: a copy needs
// none.
func (c *copier) mark(fd int) {
	if c.unmarked {
		return
	}
	if err := c.n.Because("workshop's mark on its copy, so that a lab check tells it from one you copy by hand").Fsetxattr(fd, rootmark.Name, rootmark.Value, 0); err != nil {
		c.unmarked = true
		c.n.Note("the copies stay unmarked (%v): a lab check will not tell them from copies made by hand", errors.Unwrap(err))
	}
}

// leftoverSuffix ends the name a file is copied to before it is renamed
// whole onto its own (copyFile): a name with it in the root is a copy a
// SIGKILL stopped halfway.
const leftoverSuffix = ".workshop-copy"

// IsHalfCopy reports whether p names a copy under way (or what a killed
// one left): .NAME.workshop-copy.
func IsHalfCopy(p string) bool {
	b := filepath.Base(p)
	return strings.HasPrefix(b, ".") && strings.HasSuffix(b, leftoverSuffix) && len(b) > 1+len(leftoverSuffix)
}

// TrackCopy, when set, records each half copy's path while it is made in
// root (whose lock the copier holds: lockRoot), and the done it returns
// forgets it: workshop's command line records it under the state dir
// (state.TrackPendingLocked), so that 'workshop clean' removes what a
// kill -9 leaves in a root wherever the root is (the next copy into that
// directory would, but an image packed from the root before would carry
// it). Bookkeeping, as a run's record: not narrated.
var TrackCopy func(root, path string) (done func())

// stopped is the error of a copy a stop signal ended, or nil.
func (c *copier) stopped() error {
	select {
	case s := <-c.stop:
		sig := s.(syscall.Signal)
		return exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s while copying into %s: no file is left half copied, and the files copied whole stay (a next run copies the rest)", sys.SignalName(sig), c.root)
	default:
		return nil
	}
}

func newCopier(n *sys.Narrator, root string) *copier {
	return &copier{n: n, root: root, done: map[string]bool{}, dirs: map[string]string{"/": root}}
}

// place puts the host path p (absolute) at the same path in the root: a
// symlink as a symlink (and then what it points to), a file as a copy.
func (c *copier) place(p string) error {
	p = filepath.Clean(p)
	if c.done[p] {
		return nil
	}
	c.done[p] = true
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	dir, err := c.dir(filepath.Dir(p))
	if err != nil {
		return err
	}
	dest := filepath.Join(dir, filepath.Base(p))
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := c.link(target, dest); err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		return c.place(target)
	case fi.Mode().IsRegular():
		return c.copyFile(p, dest, fi)
	default:
		return fmt.Errorf("%s is neither a file nor a symlink: cannot copy it into a root", p)
	}
}

// dir returns the root's copy of the host directory d, making what is
// missing: a directory as a directory (with the host's mode), a symlink
// (merged /usr: /bin -> usr/bin) as the same symlink, and what it points to.
func (c *copier) dir(d string) (string, error) {
	if in, ok := c.dirs[d]; ok {
		return in, nil
	}
	parent, err := c.dir(filepath.Dir(d))
	if err != nil {
		return "", err
	}
	in := filepath.Join(parent, filepath.Base(d))
	resolved, err := c.ensureDir(d, in)
	if err != nil {
		return "", err
	}
	c.dirs[d] = resolved
	return resolved, nil
}

func (c *copier) ensureDir(host, in string) (string, error) {
	fi, err := os.Lstat(in)
	switch {
	case err == nil && fi.IsDir():
		return in, nil
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		// Already a symlink in the root: follow it inside the root.
		return c.inRootDir(in)
	case err == nil:
		return "", fmt.Errorf("%s is in the way: it should be a directory", in)
	case !os.IsNotExist(err):
		return "", err
	}
	hfi, err := os.Lstat(host)
	if err == nil && hfi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if err := c.n.Symlink(target, in); err != nil {
			return "", err
		}
		c.linked++
		return c.inRootDir(in)
	}
	mode := uint32(0o755)
	if err == nil {
		mode = uint32(hfi.Sys().(*syscall.Stat_t).Mode & 0o7777)
	}
	if err := c.n.Mkdir(in, mode); err != nil {
		return "", err
	}
	// mkdir's mode is cut by the umask, as a new file's is: /tmp's 01777
	// would be 01755 under the usual 022. And Linux's mkdir never sets
	// set-user-ID or set-group-ID from its mode.
	why := ""
	switch mask := sys.CurrentUmask(); {
	case mode&mask != 0:
		why = fmt.Sprintf("mkdir's mode was cut by the umask (%04o): the host's is %04o", mask, mode)
	case mode&(unix.S_ISUID|unix.S_ISGID) != 0:
		why = fmt.Sprintf("mkdir never sets set-user-ID or set-group-ID: the host's mode is %04o", mode)
	}
	if why != "" {
		if err := c.n.Because(why).Chmod(in, mode); err != nil {
			return "", err
		}
	}
	c.made++
	return in, nil
}

// inRootDir resolves the symlink at in the way a process chrooted in the
// root would, and makes sure the directory it names exists.
func (c *copier) inRootDir(in string) (string, error) {
	resolved, err := securejoin.SecureJoin(c.root, strings.TrimPrefix(in, c.root))
	if errors.Is(err, unix.ELOOP) {
		return "", fmt.Errorf("%s is a symlink that leads, inside the root, back to itself or through too many other links (a loop): the directory it stands for cannot be made", in)
	}
	if err != nil {
		return "", err
	}
	rel := "/" + strings.TrimPrefix(strings.TrimPrefix(resolved, c.root), "/")
	return c.dir(filepath.Clean(rel))
}

// link makes the symlink dest -> target, unless it is there already.
func (c *copier) link(target, dest string) error {
	if c.done[dest] {
		return nil
	}
	c.done[dest] = true
	fi, err := os.Lstat(dest)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if old, _ := os.Readlink(dest); old == target {
			c.upToDate++
			return nil
		}
	}
	if err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory in the root, where the host has a symlink to %s", dest, target)
		}
		if err := c.n.Unlink(dest); err != nil {
			return err
		}
	}
	if err := c.n.Symlink(target, dest); err != nil {
		return err
	}
	c.linked++
	return nil
}

// copyFile copies the host file src to dest, as cp -p does, unless dest is
// already a file of the same size and modification time.
func (c *copier) copyFile(src, dest string, fi os.FileInfo) error {
	if c.done[dest] {
		return nil
	}
	if err := c.stopped(); err != nil {
		return err
	}
	c.done[dest] = true
	st := fi.Sys().(*syscall.Stat_t)
	old, err := os.Lstat(dest)
	if err == nil {
		switch {
		case old.Mode().IsRegular() && old.Size() == fi.Size() && old.ModTime().Equal(fi.ModTime()):
			c.upToDate++
			return nil
		case old.IsDir():
			return fmt.Errorf("%s is a directory in the root, where the host has a file", dest)
		}
	}
	mode := uint32(st.Mode & 0o7777)
	in, err := c.n.Openat(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	// The copy is made beside dest and renamed onto it once whole: a copy
	// stopped halfway (Ctrl-C, kill -9) leaves no half program at dest for
	// the next step to run, only this name, which the next copy removes.
	// The rename replaces a symlink at dest, never writing through it.
	// O_EXCL: whatever is at the name already is removed, never opened.
	// A root unpacked from an image may hold anything there: a device
	// node (written into, it would be the host's disk), a FIFO (the open
	// would wait for a reader for ever), a symlink (O_NOFOLLOW alone
	// refuses it, and the copy would fail).
	tmp := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+leftoverSuffix)
	if TrackCopy != nil {
		defer TrackCopy(c.root, tmp)()
	}
	const create = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	out, err := c.n.Openat(tmp, create, mode)
	if errors.Is(err, unix.EEXIST) {
		if err = c.n.Because("a killed copy's leftover, or whatever the root holds at this name: removed, not written into").Unlink(tmp); err == nil {
			out, err = c.n.Openat(tmp, create, mode)
		}
	}
	if err != nil {
		c.n.CloseFd(in)
		return err
	}
	err = c.copyBytes(in, out, int(fi.Size()))
	if err == nil {
		c.mark(out)
		err = c.n.Fchmod(out, mode)
	}
	if err == nil {
		err = c.n.Futimens(out, unix.Timespec(st.Atim), unix.Timespec(st.Mtim))
	}
	if cerr := c.n.CloseFd(out); err == nil {
		err = cerr
	}
	c.n.CloseFd(in)
	if err == nil {
		err = c.n.Rename(tmp, dest)
	}
	if err != nil {
		c.n.Unlink(tmp)
		var stop *exit.Error
		if errors.As(err, &stop) {
			return err // the stop's own sentence
		}
		return fmt.Errorf("copy %s to %s: %w", src, dest, err)
	}
	c.copied++
	return nil
}

// sweep removes what copies a SIGKILL stopped halfway left in the
// directories dirs of the root (the ones this copy writes into, where an
// earlier copy of the same programs wrote), each resolved inside the root,
// as copyFile resolves them: names ending in leftoverSuffix, which only
// copyFile makes, under the root's lock, so no other copy is making one.
// (One in another directory stays, until the root is removed: 'workshop
// clean' removes the steps' own.)
func (c *copier) sweep(dirs []string) {
	looked := 0
	defer func() {
		if looked > 0 {
			c.n.Note("looked in %s of the root for what a copy killed halfway left (.NAME%s): openat, getdents64 and close of each, summarised here; what it removes is printed",
				units.Count(looked, "directory", "directories"), leftoverSuffix)
		}
	}()
	for _, host := range dirs {
		d, err := securejoin.SecureJoin(c.root, host)
		if err != nil {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		looked++
		for _, e := range entries {
			if IsHalfCopy(e.Name()) && e.Type().IsRegular() {
				c.n.Because("a copy killed halfway left it (the next copy of that program would replace it; this one may copy another)").Unlink(filepath.Join(d, e.Name()))
			}
		}
	}
}

// copyBytes asks the kernel to copy (copy_file_range), and falls back to
// read and write when it cannot between these two filesystems.
func (c *copier) copyBytes(in, out, size int) error {
	left := size
	for left > 0 {
		if err := c.stopped(); err != nil {
			return err
		}
		// At most copyChunk a call: a stop signal waits for one chunk.
		k, err := c.n.CopyFileRange(in, out, min(left, copyChunk))
		if err != nil {
			if left == size && cannotCopyRange(err) {
				return c.readWrite(in, out)
			}
			return err
		}
		if k == 0 {
			break // the file shrank while we copied it
		}
		left -= k
	}
	return nil
}

// copyChunk is the most one copy_file_range call copies.
const copyChunk = 16 << 20

func cannotCopyRange(err error) bool {
	return errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)
}

func (c *copier) readWrite(in, out int) error {
	buf := make([]byte, 1<<20)
	for {
		if err := c.stopped(); err != nil {
			return err
		}
		r, err := c.n.Read(in, buf)
		if err != nil {
			return err
		}
		if r == 0 {
			return nil
		}
		for data := buf[:r]; len(data) > 0; {
			w, err := c.n.Write(out, data)
			if err != nil {
				return err
			}
			data = data[w:]
		}
	}
}
