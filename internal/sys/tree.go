package sys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/workshop-dev/workshop/internal/units"
)

// Removing a tree is many calls: `workshop clean`, the end of a run and the
// image store all remove roots of thousands of files, and say so without
// burying the rest of the narration.

// ShownPerTree is how many of a tree's unlinkat calls are narrated one by
// one; the rest are counted in one line, as step 5 counts the entries of
// an unpack, so that removing a root of thousands of files does not bury
// the rest. The call that removes the tree's top is always shown, and so
// is any call that fails.
const ShownPerTree = 6

// RemoveTree removes a file or a directory tree, as rm -rf does: one
// unlinkat per entry, depth first. It never follows a symlink, and it
// stops at a directory of another filesystem: a mount nobody saw is never
// emptied. It walks the tree through open directories (openat, fstatat and
// unlinkat relative to each), so that a tree deeper than PATH_MAX (4096
// bytes of path), which a container or an archive can make, is removed
// too.
func (n *Narrator) RemoveTree(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	t := &treeRemoval{n: n, dev: st.Dev}
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = t.removeChildrenAt(unix.AT_FDCWD, path, path, &st)
	}
	if t.hidden > 0 {
		n.Note("… and %s, one for each entry of %s (made relative to its directories, each opened with openat: "+
			"a path may be longer than the kernel takes in one call)", units.Count(t.hidden, "more unlinkat call", "more unlinkat calls"), path)
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = n.Rmdir(path)
	} else {
		err = n.Unlink(path)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

type treeRemoval struct {
	n      *Narrator
	dev    uint64 // the filesystem of the tree's top
	shown  int
	hidden int
}

// removeChildrenAt removes what the directory name (relative to the open
// directory parent; path is its whole path, for messages and narration)
// holds.
func (t *treeRemoval) removeChildrenAt(parent int, name, path string, st *unix.Stat_t) error {
	if st.Dev != t.dev {
		return fmt.Errorf("%s is another filesystem (a mount?): not removed (unmount it first)", path)
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	dir := os.NewFile(uintptr(fd), path)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if errors.Is(err, unix.ENOENT) {
		return nil // removed meanwhile, by another clean
	}
	if err != nil {
		return err
	}
	for _, child := range names {
		p := filepath.Join(path, child)
		var cst unix.Stat_t
		if err := unix.Fstatat(fd, child, &cst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return &os.PathError{Op: "fstatat", Path: p, Err: err}
		}
		isDir := cst.Mode&unix.S_IFMT == unix.S_IFDIR
		if isDir {
			if err := t.removeChildrenAt(fd, child, p, &cst); err != nil {
				return err
			}
		}
		if err := t.unlinkAt(fd, child, p, isDir); err != nil {
			return err
		}
	}
	return nil
}

// unlinkAt removes name from the open directory dirfd (path is its whole
// path). The first calls of a tree are made, and narrated, with the whole
// path, as a student would type them, when the kernel takes it in one call;
// the rest are made relative to dirfd and counted in one line.
func (t *treeRemoval) unlinkAt(dirfd int, name, path string, dir bool) error {
	var err error
	if t.shown < ShownPerTree && len(path) < unix.PathMax {
		t.shown++
		if dir {
			err = t.n.Rmdir(path)
		} else {
			err = t.n.Unlink(path)
		}
	} else {
		flags, how := 0, "0"
		if dir {
			flags, how = unix.AT_REMOVEDIR, "AT_REMOVEDIR"
		}
		err = unix.Unlinkat(dirfd, name, flags)
		if err == nil {
			t.hidden++
			return nil
		}
		t.n.Reported("unlinkat", fmt.Sprintf("%d, %q, %s", dirfd, name, how), -1, err)
		err = &os.PathError{Op: "unlinkat", Path: path, Err: err}
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
