package imagetar

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PackOptions are the choices of a pack.
type PackOptions struct {
	// Prefix is a directory name put in front of every entry. Empty, the
	// entries are relative to the root ("./bin/bash"), as images store them.
	// "my-new-root" makes what the walkthrough's
	// `tar cvf dockercontainer.tar my-new-root` makes: my-new-root/bin/bash.
	Prefix string
	// Gzip compresses the tar.
	Gzip bool
	// Progress, when not nil, is a terminal to show progress on.
	Progress io.Writer
}

// Pack writes the tree under root to w as a tar: directories, regular files,
// symlinks (as symlinks), hardlinks (the second name links the first),
// device nodes and fifos, with their modes, numeric owners and modification
// times. Entries come in lexical order and user names are left out, so the
// same tree packs to the same bytes (and the store gives it the same id).
//
// Like `tar --one-file-system`, it does not descend into other mounts
// (a /proc mounted in the root is not packed); sockets, which tar cannot
// hold, are skipped. Both are counted in Stats.Skipped.
func Pack(ctx context.Context, root string, w io.Writer, opts PackOptions) (Stats, error) {
	var st Stats
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	pinned, err := os.OpenFile(real, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	defer pinned.Close()
	rootInfo, err := pinned.Stat()
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if !rootInfo.IsDir() {
		return st, fmt.Errorf("pack %s: it is not a directory", root)
	}

	out := w
	var gz *gzip.Writer
	if opts.Gzip {
		gz = gzip.NewWriter(w)
		out = gz
	}
	pk := &packer{
		ctx:       ctx,
		tw:        tar.NewWriter(out),
		prefix:    opts.Prefix,
		st:        &st,
		prog:      newProgress(opts.Progress, "packing"),
		rootDev:   uint64(rootInfo.Sys().(*syscall.Stat_t).Dev),
		firstName: map[[2]uint64]string{},
	}
	defer pk.prog.done()
	if err := pk.entry(pinned, real, ".", at{-1, ""}); err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if err := pk.tw.Close(); err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return st, fmt.Errorf("pack %s: %w", root, err)
		}
	}
	return st, nil
}

// packer walks a root by descriptors, not by paths: each directory is
// listed through a descriptor of its own, and each name in it is pinned
// (openat with O_PATH|O_NOFOLLOW, relative to that directory) before it is
// looked at, read or entered. The root may change under the walk (a
// container still running in it, or anyone who may write there): a
// directory swapped for a symlink to the host's /etc between the listing
// and the visit is then packed as that symlink, never followed. A walk by
// paths (lstat, then open) would follow it and pack the host's files.
type packer struct {
	ctx       context.Context
	tw        *tar.Writer
	prefix    string
	st        *Stats
	prog      *progress
	rootDev   uint64
	firstName map[[2]uint64]string // (dev, inode) -> first name, for hardlinks
}

// listed, when not nil, is called after a directory is listed and before
// its entries are pinned: the moment a path walk would be fooled, where a
// test swaps a directory for a symlink.
var listed func(dir string)

// at is where a file is: its name in the directory open as dir.
type at struct {
	dir  int
	name string
}

// entry packs the file pinned (an O_PATH descriptor), whose path is p,
// whose name inside the root is rel, and which is where (the root: no
// directory of the walk's), and, for a directory, what it holds.
func (pk *packer) entry(pinned *os.File, p, rel string, where at) error {
	if err := pk.ctx.Err(); err != nil {
		return fmt.Errorf("pack interrupted: %w", err)
	}
	fi, err := pinned.Stat()
	if err != nil {
		return err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&fs.ModeSocket != 0 {
		pk.st.Skipped++
		return nil
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		// The symlink pinned itself: readlinkat of an O_PATH descriptor
		// and an empty name.
		if link, err = readlinkPinned(pinned); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	hdr.Name = packName(pk.prefix, rel, fi.IsDir())
	hdr.Uname, hdr.Gname = "", "" // numeric owners only: the image has its own /etc/passwd
	if fi.Mode().IsRegular() && sys.Nlink > 1 {
		key := [2]uint64{uint64(sys.Dev), sys.Ino}
		if first, ok := pk.firstName[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			pk.firstName[key] = hdr.Name
		}
	}
	if err := pk.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	pk.st.Entries++
	switch {
	case fi.IsDir():
		pk.st.Dirs++
		if uint64(sys.Dev) != pk.rootDev {
			pk.st.Skipped++ // a mount point: its own entry, not its contents
			break
		}
		pk.prog.update(pk.st.Entries, pk.st.Bytes)
		return pk.dir(pinned, p, rel)
	case hdr.Typeflag == tar.TypeLink:
		pk.st.Hardlinks++
	case hdr.Typeflag == tar.TypeReg:
		pk.st.Files++
		if err := copyFile(pk.tw, pinned, where, p, hdr.Size); err != nil {
			return err
		}
		pk.st.Bytes += hdr.Size
	case hdr.Typeflag == tar.TypeSymlink:
		pk.st.Symlinks++
	case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock:
		pk.st.Devices++
	case hdr.Typeflag == tar.TypeFifo:
		pk.st.Fifos++
	}
	pk.prog.update(pk.st.Entries, pk.st.Bytes)
	return nil
}

// dir packs what the directory pinned holds, in lexical order (as
// filepath.WalkDir visits it: the same tree packs to the same bytes).
func (pk *packer) dir(pinned *os.File, p, rel string) error {
	fd, err := unix.Openat(int(pinned.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	d := os.NewFile(uintptr(fd), p)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	if listed != nil {
		listed(p)
	}
	for _, name := range names {
		cp := filepath.Join(p, name)
		cfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: cp, Err: err}
		}
		child := os.NewFile(uintptr(cfd), cp)
		crel := name
		if rel != "." {
			crel = rel + "/" + name
		}
		err = pk.entry(child, cp, crel, at{fd, name})
		child.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// readlinkPinned reads the target of the symlink pinned by an O_PATH
// descriptor.
func readlinkPinned(pinned *os.File) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(pinned.Fd()), "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// packName is an entry's name in the tar: "./bin/bash" without a prefix,
// "my-new-root/bin/bash" with one; a directory ends in "/".
func packName(prefix, rel string, dir bool) string {
	if prefix == "" {
		return archiveName(rel, dir)
	}
	name := prefix
	if rel != "." {
		name += "/" + rel
	}
	if dir {
		name += "/"
	}
	return name
}

// leaseWait and leaseRetry bound the wait for a file under a lease where
// there is no /proc: a little longer than the kernel's default
// lease-break-time, tried every leaseRetry.
const (
	leaseWait  = 50 * time.Second
	leaseRetry = 50 * time.Millisecond
)

// reopen opens for reading the regular file pinned (an O_PATH descriptor)
// through /proc/self/fd. Without a /proc (workshop in a chroot), its name
// is opened again in its directory's descriptor (where), never by its path
// (a directory on the way swapped for a symlink would be followed), without
// waiting (a FIFO put there since opens at once), and must be the pinned
// file; a lease, whose holder must let go first, is waited out by trying
// again. p is its path, for messages.
func reopen(pinned *os.File, where at, p string) (*os.File, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", pinned.Fd()), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		return f, nil
	}
	if _, serr := os.Stat("/proc/self/fd"); serr == nil {
		return nil, fmt.Errorf("open %s: %w", p, errors.Unwrap(err))
	}
	// A lease (EAGAIN) is waited out by trying again, never by an open
	// that waits: the name could be a FIFO by then. The kernel gives a
	// lease's holder lease-break-time (45 s by default) to let go.
	for waited := time.Duration(0); ; waited += leaseRetry {
		var fd int
		fd, err = unix.Openat(where.dir, where.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			f = os.NewFile(uintptr(fd), p)
		}
		if !errors.Is(err, unix.EAGAIN) || waited >= leaseWait {
			break
		}
		time.Sleep(leaseRetry)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	was, werr := pinned.Stat()
	now, nerr := f.Stat()
	if werr != nil || nerr != nil || !os.SameFile(was, now) {
		f.Close()
		return nil, fmt.Errorf("%s is no longer the file it was: it changed while the root was packed", p)
	}
	return f, nil
}

// copyFile copies the bytes of the regular file pinned (an O_PATH
// descriptor: opening it for reading is then opening that same inode, not
// whatever the name p holds by now, a FIFO whose open would wait for a
// writer for ever) into the tar. A file that grows or shrinks while it is
// read would make a corrupt entry, so that is an error.
func copyFile(w io.Writer, pinned *os.File, where at, p string, size int64) error {
	f, err := reopen(pinned, where, p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size+1))
	switch {
	case errors.Is(err, tar.ErrWriteTooLong) && size == 0:
		return fmt.Errorf("%s says it has 0 bytes, and has more (a file of /proc or /sys?): pack a root of ordinary files", p)
	case errors.Is(err, tar.ErrWriteTooLong):
		return fmt.Errorf("%s grew while it was packed: it had %d bytes", p, size)
	case err == nil && n != size:
		return fmt.Errorf("%s shrank while it was packed: %d bytes, then %d", p, size, n)
	}
	return err
}
