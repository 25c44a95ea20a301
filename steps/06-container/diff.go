package container

import (
	"errors"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Change is one line of `workshop diff`, as `docker diff` prints it.
type Change struct {
	Kind byte   // 'A' added, 'C' changed, 'D' deleted
	Path string // inside the container, starting with /
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Diff lists what a container changed against its image, read from the
// overlay's upper layer, where the kernel keeps every change:
//   - a file or directory in upper that is not in lower was added (A);
//   - one that is also in lower was changed (C): overlayfs copied it up;
//   - a character device 0:0 is a whiteout: the file was deleted (D);
//   - a directory marked opaque (xattr trusted.overlay.opaque=y) replaced
//     the lower one wholesale: it shows as changed.
//
// The layers are walked relative to open directories, never by whole
// paths: a container can make a tree deeper than the kernel takes in one
// path (PATH_MAX), and a symlink in the image is never followed.
func Diff(lower, upper string) ([]Change, error) {
	ufd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: upper, Err: err}
	}
	defer unix.Close(ufd)
	lfd, err := unix.Open(lower, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: lower, Err: err}
	}
	defer unix.Close(lfd)
	var changes []Change
	err = diffDir(ufd, lfd, upper, "", &changes)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, err
}

// diffDir adds the changes under one directory of the upper layer, open as
// ufd; lfd is the same directory in the lower layer, or -1 where the image
// has none (all below is added). inside is its path in the container ("" for
// the root), upper the layer's path, for messages.
func diffDir(ufd, lfd int, upper, inside string, changes *[]Change) error {
	names, err := dirNames(ufd)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: upper + inside, Err: err}
	}
	for _, name := range names {
		p := inside + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(ufd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "fstatat", Path: upper + p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			*changes = append(*changes, Change{'D', p})
			continue
		}
		inLower := false
		var lst unix.Stat_t
		if lfd >= 0 {
			err := unix.Fstatat(lfd, name, &lst, unix.AT_SYMLINK_NOFOLLOW)
			switch {
			case err == nil:
				inLower = true
			case !errors.Is(err, unix.ENOENT):
				return &os.PathError{Op: "fstatat", Path: "the image's " + p, Err: err}
			}
		}
		// Everything below an added directory is added too: the walk goes
		// on into it and lists it, as docker diff does.
		kind := byte('A')
		if inLower {
			kind = 'C'
		}
		*changes = append(*changes, Change{kind, p})
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if err := diffSubdir(ufd, lfd, name, inLower && lst.Mode&unix.S_IFMT == unix.S_IFDIR, upper, p, changes); err != nil {
			return err
		}
	}
	return nil
}

// diffSubdir opens the directory name in both layers (in the lower one only
// if it is a directory there) and walks it.
func diffSubdir(ufd, lfd int, name string, lowerDir bool, upper, inside string, changes *[]Change) error {
	sub, err := unix.Openat(ufd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: upper + inside, Err: err}
	}
	defer unix.Close(sub)
	lsub := -1
	if lowerDir {
		lsub, err = unix.Openat(lfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "openat", Path: "the image's " + inside, Err: err}
		}
		defer unix.Close(lsub)
	}
	return diffDir(sub, lsub, upper, inside, changes)
}

// dirNames lists the names in the open directory fd, without closing it.
func dirNames(fd int) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "")
	defer f.Close()
	return f.Readdirnames(-1)
}
