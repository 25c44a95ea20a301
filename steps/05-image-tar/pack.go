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
	rootInfo, err := os.Stat(real)
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if !rootInfo.IsDir() {
		return st, fmt.Errorf("pack %s: it is not a directory", root)
	}
	rootDev := rootInfo.Sys().(*syscall.Stat_t).Dev

	out := w
	var gz *gzip.Writer
	if opts.Gzip {
		gz = gzip.NewWriter(w)
		out = gz
	}
	tw := tar.NewWriter(out)
	prog := newProgress(opts.Progress, "packing")
	defer prog.done()
	firstName := map[[2]uint64]string{} // (dev, inode) -> first name, for hardlinks

	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pack interrupted: %w", err)
		}
		rel, err := filepath.Rel(real, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sys := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeSocket != 0 {
			st.Skipped++
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = packName(opts.Prefix, filepath.ToSlash(rel), d.IsDir())
		hdr.Uname, hdr.Gname = "", "" // numeric owners only: the image has its own /etc/passwd
		if fi.Mode().IsRegular() && sys.Nlink > 1 {
			key := [2]uint64{uint64(sys.Dev), sys.Ino}
			if first, ok := firstName[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				firstName[key] = hdr.Name
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		st.Entries++
		switch {
		case d.IsDir():
			st.Dirs++
			if uint64(sys.Dev) != uint64(rootDev) {
				st.Skipped++ // a mount point: its own entry, not its contents
				return fs.SkipDir
			}
		case hdr.Typeflag == tar.TypeLink:
			st.Hardlinks++
		case hdr.Typeflag == tar.TypeReg:
			st.Files++
			if err := copyFile(tw, p, hdr.Size); err != nil {
				return err
			}
			st.Bytes += hdr.Size
		case hdr.Typeflag == tar.TypeSymlink:
			st.Symlinks++
		case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock:
			st.Devices++
		case hdr.Typeflag == tar.TypeFifo:
			st.Fifos++
		}
		prog.update(st.Entries, st.Bytes)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if err := tw.Close(); err != nil {
		return st, fmt.Errorf("pack %s: %w", root, err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return st, fmt.Errorf("pack %s: %w", root, err)
		}
	}
	return st, nil
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

// reopen opens for reading the file pinned (an O_PATH descriptor of the
// regular file p) through /proc/self/fd. Without a /proc (workshop in a
// chroot), p is opened again without waiting (a FIFO put there since
// opens at once, and is refused), and must be the pinned file; a lease,
// whose holder must let go first, is waited out by trying again.
func reopen(pinned *os.File, p string) (*os.File, error) {
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
		f, err = os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EAGAIN) || waited >= leaseWait {
			break
		}
		time.Sleep(leaseRetry)
	}
	if err != nil {
		return nil, err
	}
	was, werr := pinned.Stat()
	now, nerr := f.Stat()
	if werr != nil || nerr != nil || !os.SameFile(was, now) {
		f.Close()
		return nil, fmt.Errorf("%s is no longer the file it was: it changed while the root was packed", p)
	}
	return f, nil
}

// copyFile copies a regular file's bytes into the tar. A file that grows or
// shrinks while it is read would make a corrupt entry, so that is an error.
func copyFile(w io.Writer, p string, size int64) error {
	// The root may change under the walk (a container still running in
	// it): what was a file when it was listed may be a FIFO now, whose
	// open for reading would wait for a writer for ever. So the name is
	// first pinned (O_PATH opens nothing), checked to be a regular file,
	// and that same inode opened for reading through /proc/self/fd. (Not
	// O_NONBLOCK: a regular file under a lease must still be waited for.)
	pinned, err := os.OpenFile(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer pinned.Close()
	if fi, err := pinned.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is no longer a regular file: it changed while the root was packed", p)
	}
	f, err := reopen(pinned, p)
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
