package imagetar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// extractor places the entries of one archive under root, a directory it
// alone writes to (the temporary directory of an unpack).
//
// The rules that keep every entry inside root, whatever the archive holds:
//
//   - The parent directory of an entry is resolved by pathrs-lite with root
//     as "/": "..", and symlinks (absolute ones included), stop at root,
//     as they would inside the container. Missing parents are made there.
//   - The entry itself is then made with an *at syscall relative to that
//     directory handle, and the last component is never followed:
//     O_CREAT|O_EXCL|O_NOFOLLOW, symlinkat, mkdirat, mknodat, linkat without
//     AT_SYMLINK_FOLLOW, fchownat and utimensat with AT_SYMLINK_NOFOLLOW,
//     fchmod on the descriptor just made.
//   - Whatever already sits at that name (a symlink an earlier entry
//     planted, say) is unlinked first, never written through.
//   - A hardlink's target is an archive path, resolved inside root the same
//     way; only an inode under root can be linked.
type extractor struct {
	root     *os.File // the new root, opened O_DIRECTORY
	rootPath string   // its path, clean
	devices  bool     // device nodes may be made (real root, initial user namespace)
	noDev    string   // why not, when they may not
	chown    bool     // owners are set from the archive (only root can)
	stats    Stats
	dirs     []*tar.Header // directories whose mode and times are set last
	dirPath  []string      // their paths, in the same order
}

// EntryError is an entry that cannot be placed safely; nothing of the
// archive is left on disk when it is returned.
type EntryError struct {
	Name string // the name as the archive stores it
	Err  error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("entry %s: %v", quoteShort(e.Name), e.Err)
}

// quoteShort quotes an entry's name, its middle cut out when it is long: a
// hostile name can be tens of kilobytes, which would bury the sentence.
func quoteShort(name string) string {
	const keep = 60
	if len(name) <= 3*keep {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("%q…%q (a name of %d bytes)", name[:keep], name[len(name)-keep:], len(name))
}
func (e *EntryError) Unwrap() error { return e.Err }

// typeGNUVolumeLabel is the entry GNU tar's --label writes first: the
// archive's name, which archive/tar hands over as an entry of its own.
const typeGNUVolumeLabel = 'V'

// aboutTheArchive reports whether an entry describes the archive rather
// than a file of the root, and so makes nothing: a PAX global header, a
// GNU volume label (GNU tar too passes over it when it extracts).
func aboutTheArchive(hdr *tar.Header) bool {
	return hdr.Typeflag == tar.TypeXGlobalHeader || hdr.Typeflag == typeGNUVolumeLabel
}

// place puts one entry under the root, reading a regular file's bytes from body.
func (x *extractor) place(hdr *tar.Header, body io.Reader) error {
	if aboutTheArchive(hdr) {
		return nil
	}
	p, err := entryPath(hdr.Name, "")
	if err != nil {
		return err
	}
	if err := checkEntry(hdr, p); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		return x.dir(p, hdr)
	}
	dir, err := x.parentDir(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	dfd, base := int(dir.Fd()), path.Base(p)
	if _, err := x.clear(dfd, base, false); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return x.file(dfd, base, hdr, body)
	case tar.TypeSymlink:
		return x.symlink(dfd, base, hdr)
	case tar.TypeLink:
		return x.hardlink(dfd, base, p, hdr)
	case tar.TypeChar, tar.TypeBlock:
		return x.device(dfd, base, hdr)
	}
	return x.fifo(dfd, base, hdr) // the last type checkEntry lets through
}

// callError is a call's failure on an entry. Not an os.PathError: the
// path would be the entry's name, which EntryError shows already, quoted
// and shortened; raw, a hostile name's escape bytes would reach the
// terminal, and a long one bury the sentence.
type callError struct {
	Op  string
	Err error
}

func (e *callError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *callError) Unwrap() error { return e.Err }

// maxID is the largest owner id a file can have: uid_t is 32 bits, and
// 4294967295 (-1) means "leave the owner as it is" to chown.
const maxID = 1<<32 - 2

// chownError is the error of a chown of an entry to its owner. EINVAL
// there means the owner has no id in this process's user namespace (an
// unpack run inside `unshare -Ur`, whose map holds root alone).
func chownError(op string, hdr *tar.Header, err error) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s to %d:%d: this process's user namespace maps no such owner (its uid_map and gid_map hold too few ids): %w", op, hdr.Uid, hdr.Gid, err)
	}
	return &callError{Op: op, Err: err}
}

// maxDepth is how many names deep an entry may lie. A root filesystem's
// deepest paths are a few dozen names; the in-root resolution of each
// entry costs about the square of its depth (each name is looked up from
// the root), so a tiny archive of very deep entries would keep an import
// busy for minutes (1000 entries 1900 deep: over two).
const maxDepth = 128

// checkEntry refuses what no root filesystem holds, before anything of the
// entry is made (and before the import rewrites the archive, so that its
// refusal names the entry as the archive does): a type other than a file,
// directory, symlink, hardlink, device or fifo, a sparse file, a
// non-directory in place of the root, an owner id the kernel would cut
// down or take for "no change".
func checkEntry(hdr *tar.Header, p string) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		if Sparse(hdr) {
			// Go's reader would hand over the holes as zeros: a 1 TB
			// sparse entry in a tiny archive would fill the disk.
			return errors.New("it is a sparse file, which workshop does not unpack (no root filesystem needs one)")
		}
	case tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("its type %q is not one a root filesystem holds", hdr.Typeflag)
	}
	if p == "." && hdr.Typeflag != tar.TypeDir {
		return errors.New("a non-directory cannot replace the root itself")
	}
	if depth := strings.Count(p, "/") + 1; depth > maxDepth {
		return fmt.Errorf("it lies %d names deep, deeper than the %d workshop unpacks (a root filesystem's deepest paths are a few dozen)", depth, maxDepth)
	}
	for _, id := range []struct {
		what string
		n    int
	}{{"uid", hdr.Uid}, {"gid", hdr.Gid}} {
		if id.n < 0 || id.n > maxID {
			return fmt.Errorf("its owner's %s %d is out of range (0 to %d)", id.what, id.n, maxID)
		}
	}
	if (hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock) &&
		(hdr.Devmajor < 0 || hdr.Devmajor > maxMajor || hdr.Devminor < 0 || hdr.Devminor > maxMinor) {
		// Cut down to 32 bits, 4294967304:0 would make 8:0, a disk.
		return fmt.Errorf("its device number %d:%d is none Linux has (majors 0 to %d, minors 0 to %d)", hdr.Devmajor, hdr.Devminor, maxMajor, maxMinor)
	}
	return nil
}

// maxMajor and maxMinor are the largest device numbers the kernel keeps
// (its dev_t: 12 bits of major, 20 of minor).
const maxMajor, maxMinor = 1<<12 - 1, 1<<20 - 1

// nameTooLong is the error of an entry whose directory's path the kernel
// refused as too long (ENAMETOOLONG): one of its names, or the whole.
func nameTooLong(parent, rootPath string, err error) error {
	for _, part := range strings.Split(parent, "/") {
		if len(part) > unix.NAME_MAX {
			return fmt.Errorf("a part of its directory's path, %s, is %d bytes, longer than a name can be (%d): %w", quoteShort(part), len(part), unix.NAME_MAX, err)
		}
	}
	// The root's own path counts too: the kernel takes the whole.
	if whole := len(rootPath) + 1 + len(parent); whole > unix.PathMax {
		return fmt.Errorf("its directory's path, inside the root's, is %d bytes, longer than the kernel takes (%d): %w", whole, unix.PathMax, err)
	}
	// Neither: a symlink on the way, an earlier entry, leads there.
	return fmt.Errorf("its directory's path goes through a symlink an earlier entry made, whose target is too long a path or holds too long a name (over %d bytes, or a name over %d): %w", unix.PathMax, unix.NAME_MAX, err)
}

// parentDir returns a handle on the directory that will hold entry p,
// making the missing directories on the way, all inside the root.
//
// Two steps, each from filepath-securejoin. SecureJoin first works out
// where the path leads when the root is "/": it follows symlinks, absolute
// ones included, even to places that do not exist yet, so that an image's
// var/run -> /run followed by var/run/x makes <root>/run/x, as in every
// real image. MkdirAllHandle then walks that path again with openat2
// (RESOLVE_IN_ROOT) and O_NOFOLLOW directory by directory: whatever
// SecureJoin said, the handle it returns is a directory under the root.
func (x *extractor) parentDir(p string) (*os.File, error) {
	parent := path.Dir(p)
	rel, err := resolveInRoot(x.rootPath, parent)
	if err != nil {
		// Its path names the temporary root, gone by the time the student
		// reads it: the cause alone (too many levels of symbolic links).
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, unix.ENAMETOOLONG) {
			return nil, nameTooLong(parent, x.rootPath, err)
		}
		return nil, fmt.Errorf("resolve its directory %s inside the root: %w", shownShort(parent), err)
	}
	dir, err := pathrs.MkdirAllHandle(x.root, rel, 0o755)
	if errors.Is(err, unix.ENOTDIR) {
		// pathrs's sentence names the temporary root, gone by the time
		// the student reads it.
		return nil, fmt.Errorf("make its directory %s inside the root: a name on its way is not a directory (an earlier entry made it a file, a link or a device)", shownShort(parent))
	}
	if err != nil {
		// The cause alone: pathrs's sentence holds the temporary root's
		// path and the entry's raw name.
		var errno unix.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		if errors.Is(err, unix.ENAMETOOLONG) {
			return nil, nameTooLong(parent, x.rootPath, err)
		}
		return nil, fmt.Errorf("make its directory %s inside the root: %w", shownShort(parent), err)
	}
	return dir, nil
}

// resolveInRoot is where p leads inside the root at rootPath, as a path
// relative to it: symlinks on the way are followed as if the root were
// "/" (SecureJoin), absolute ones included, even to places that do not
// exist yet. The caller walks it again with pathrs-lite, which never
// leaves the root whatever changed in between.
func resolveInRoot(rootPath, p string) (string, error) {
	full, err := securejoin.SecureJoin(rootPath, p)
	if err != nil {
		return "", err
	}
	return filepath.Rel(rootPath, full)
}

// clear makes room for an entry named base in dfd. An existing directory is
// kept for a directory entry and removed (only if empty) for any other; any
// other existing file, symlinks included, is unlinked: never followed,
// never written through. It reports whether a directory was kept.
func (x *extractor) clear(dfd int, base string, wantDir bool) (kept bool, err error) {
	// Said as its directories' are (nameTooLong), not as the fstatat's
	// "file name too long".
	if len(base) > unix.NAME_MAX {
		return false, fmt.Errorf("its own name, %s, is %d bytes, longer than a name can be (%d)", quoteShort(base), len(base), unix.NAME_MAX)
	}
	var st unix.Stat_t
	err = unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &callError{Op: "fstatat", Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if wantDir {
			return true, nil
		}
		err = unix.Unlinkat(dfd, base, unix.AT_REMOVEDIR)
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			return false, errors.New("it would replace a directory that is not empty")
		}
		if err != nil {
			return false, &callError{Op: "unlinkat", Err: err}
		}
		return false, nil
	}
	if err := unix.Unlinkat(dfd, base, 0); err != nil {
		return false, &callError{Op: "unlinkat", Err: err}
	}
	return false, nil
}

// dir makes a directory now; its mode, owner and times are set at the end
// (finishDirs), once nothing more is written into it.
func (x *extractor) dir(p string, hdr *tar.Header) error {
	x.stats.Dirs++
	if p != "." {
		parent, err := x.parentDir(p)
		if err != nil {
			return err
		}
		defer parent.Close()
		dfd, base := int(parent.Fd()), path.Base(p)
		kept, err := x.clear(dfd, base, true)
		if err != nil {
			return err
		}
		if !kept {
			if err := unix.Mkdirat(dfd, base, 0o700); err != nil {
				return &callError{Op: "mkdirat", Err: err}
			}
		}
	}
	x.dirs = append(x.dirs, hdr)
	x.dirPath = append(x.dirPath, p)
	return nil
}

// file writes a regular file through a descriptor that O_EXCL|O_NOFOLLOW
// guarantees is a new file, not something an earlier entry planted.
func (x *extractor) file(dfd int, base string, hdr *tar.Header, body io.Reader) error {
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &callError{Op: "openat", Err: err}
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	n, err := io.Copy(f, body)
	x.stats.Bytes += n
	if err != nil {
		return readError(err, "write its contents")
	}
	if x.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return chownError("fchown", hdr, err)
		}
	}
	// After fchown: changing the owner clears the set-user-ID bit.
	if err := unix.Fchmod(fd, perm(hdr)); err != nil {
		return &callError{Op: "fchmod", Err: err}
	}
	if err := x.times(dfd, base, hdr); err != nil {
		return err
	}
	x.stats.Files++
	return f.Close()
}

// symlink makes a symlink. Its target is stored as the archive says, even
// when it points out of the root: a symlink is only text until something
// follows it, and everything here that follows one stays inside the root.
func (x *extractor) symlink(dfd int, base string, hdr *tar.Header) error {
	if hdr.Linkname == "" {
		return errors.New("it is a symlink to nothing (an empty target)")
	}
	if err := unix.Symlinkat(hdr.Linkname, dfd, base); err != nil {
		return &callError{Op: "symlinkat", Err: err}
	}
	if x.chown {
		if err := unix.Fchownat(dfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return chownError("fchownat", hdr, err)
		}
	}
	x.stats.Symlinks++
	return x.times(dfd, base, hdr)
}

// hardlink links base to an earlier entry. Its target is an archive path
// (not something to follow), resolved inside the root like any other.
func (x *extractor) hardlink(dfd int, base, p string, hdr *tar.Header) error {
	t, err := linkTarget(hdr.Linkname, "")
	if err != nil {
		return err
	}
	if t == p {
		return errors.New("it is a hardlink to itself")
	}
	tdir, err := pathrs.OpenatInRoot(x.root, path.Dir(t))
	if err != nil {
		return fmt.Errorf("it is a hardlink to %s, which is not in the archive before it", quoteShort(hdr.Linkname))
	}
	defer tdir.Close()
	tfd, tbase := int(tdir.Fd()), path.Base(t)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("it is a hardlink to %s, which is not in the archive before it", quoteShort(hdr.Linkname))
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("it is a hardlink to the directory %s", quoteShort(hdr.Linkname))
	}
	// Flags 0: if the target is a symlink, the new name links the symlink
	// itself, never the file it points to.
	if err := unix.Linkat(tfd, tbase, dfd, base, 0); err != nil {
		return &callError{Op: "linkat", Err: err}
	}
	x.stats.Hardlinks++
	return nil
}

// device makes a character or block device, where the kernel would let a
// container's root make it anyway: real root in the initial user namespace.
func (x *extractor) device(dfd int, base string, hdr *tar.Header) error {
	kind, mode := "character", uint32(unix.S_IFCHR)
	if hdr.Typeflag == tar.TypeBlock {
		kind, mode = "block", unix.S_IFBLK
	}
	if !x.devices {
		return refusedDevice(fmt.Sprintf("it is a %s device (%d:%d), and %s", kind, hdr.Devmajor, hdr.Devminor, x.noDev))
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(dfd, base, mode|0o600, int(dev)); err != nil {
		return &callError{Op: "mknodat", Err: err}
	}
	x.stats.Devices++
	return x.special(dfd, base, hdr, mode)
}

// ErrDeviceNode is the cause (errors.Is) of an entry refused because it
// is a device node the unpack may not make.
var ErrDeviceNode = errors.New("a device node this unpack may not make")

// refusedDevice says why a device node was refused, and is ErrDeviceNode.
type refusedDevice string

func (e refusedDevice) Error() string { return string(e) }
func (e refusedDevice) Unwrap() error { return ErrDeviceNode }

func (x *extractor) fifo(dfd int, base string, hdr *tar.Header) error {
	if err := unix.Mknodat(dfd, base, unix.S_IFIFO|0o600, 0); err != nil {
		return &callError{Op: "mknodat", Err: err}
	}
	x.stats.Fifos++
	return x.special(dfd, base, hdr, unix.S_IFIFO)
}

// special sets a device's or fifo's owner, mode and times without opening
// it (opening a device can do things): through an O_PATH descriptor, whose
// type is checked first, and chmod on its /proc/self/fd link, as runc does.
func (x *extractor) special(dfd int, base string, hdr *tar.Header, kind uint32) error {
	fd, err := unix.Openat(dfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &callError{Op: "openat", Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != kind {
		return fmt.Errorf("%s changed while it was being made", base)
	}
	if x.chown {
		if err := unix.Fchownat(fd, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH); err != nil {
			return chownError("fchownat", hdr, err)
		}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), perm(hdr), 0); err != nil {
		return &callError{Op: "fchmodat", Err: err}
	}
	return x.times(dfd, base, hdr)
}

// finishDirs sets each directory's owner, mode and times, deepest last
// entry first, now that nothing more is written into them. A directory
// that a later entry replaced is skipped: that entry won. So is an entry
// of a directory that a later entry names again: the last one wins, as
// with GNU tar.
func (x *extractor) finishDirs() error {
	done := map[string]bool{}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		if done[x.dirPath[i]] {
			continue
		}
		done[x.dirPath[i]] = true
		if err := x.finishDir(x.dirPath[i], x.dirs[i]); err != nil {
			return &EntryError{Name: x.dirs[i].Name, Err: err}
		}
	}
	return nil
}

func (x *extractor) finishDir(p string, hdr *tar.Header) error {
	parent, err := pathrs.OpenatInRoot(x.root, path.Dir(p))
	if err != nil {
		return nil // its parent was replaced by a later entry
	}
	defer parent.Close()
	base := path.Base(p)
	if p == "." {
		base = "."
	}
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) {
		return nil // replaced by a later entry
	}
	if err != nil {
		return &callError{Op: "openat", Err: err}
	}
	defer unix.Close(fd)
	if x.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return chownError("fchown", hdr, err)
		}
	}
	if err := unix.Fchmod(fd, perm(hdr)); err != nil {
		return &callError{Op: "fchmod", Err: err}
	}
	return x.times(fd, ".", hdr)
}

// times sets an entry's access and modification times, never through a
// symlink in its last component.
func (x *extractor) times(dfd int, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	if err := unix.UtimesNanoAt(dfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &callError{Op: "utimensat", Err: err}
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	// Not UnixNano: it overflows outside 1678 to 2262, and a far date
	// would become another one. The filesystem clamps what it cannot hold.
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// Sparse reports whether an entry is a GNU sparse file (old GNU format, or
// the PAX records GNU tar writes), which workshop does not unpack.
func Sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// perm is the permission part of an entry's mode: rwx bits, setuid, setgid
// and sticky. Some archives also carry the file type there; it is dropped.
func perm(hdr *tar.Header) uint32 { return uint32(hdr.Mode) & 0o7777 }
