package container

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// Change is one line of `workshop diff`, as `docker diff` prints it.
type Change struct {
	Kind byte   // 'A' added, 'C' changed, 'D' deleted
	Path string // inside the container, starting with /
}

// String is the line: the path as it is, or, where it holds a byte that
// could break or fake a line (a newline, a control character, a quote, a
// backslash, bytes that are not UTF-8, a character that reorders or hides
// text), quoted as Go quotes strings, so
// that every line is one change and its name can be read back.
func (c Change) String() string {
	return string(c.Kind) + " " + quotePath(c.Path)
}

func quotePath(p string) string {
	if !utf8.ValidString(p) || strings.ContainsAny(p, "\"\\") || strings.IndexFunc(p, unicode.IsControl) >= 0 || strings.IndexFunc(p, sys.Invisible) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

// Diff lists what a container changed against its image, read from the
// overlay's upper layer, where the kernel keeps every change:
//   - a file or directory in upper that is not in lower was added (A);
//   - one that is also in lower was changed (C): overlayfs copied it up;
//   - a character device 0:0 is a whiteout: the file was deleted (D);
//   - a directory marked opaque (xattr trusted.overlay.opaque=y) replaced
//     the lower one wholesale: it shows as changed, and what the image had
//     in it that the new one lacks as deleted (D);
//   - a file that replaced a directory of the image hides all of it: the
//     directory's entries show as deleted.
//
// A running container may remove a file while the walk reads its
// directory: such a file is left out, not an error.
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
	var changes changeList
	err = diffDir(ufd, lfd, upper, "", &changes)
	sort.Slice(changes.list, func(i, j int) bool { return changes.list[i].Path < changes.list[j].Path })
	return changes.list, err
}

// LayerGone reports whether r's writable layer was removed, or is being
// removed, by the time a Diff of it ended: then what the walk found is a
// part of it, whatever it listed. Its run's workshop removes the layer in
// place once the container's first process has ended (unless --keep), and
// then forgets the record; clean renames a layer away before it removes it.
// r is the record as it was read before the walk; it is read again.
func LayerGone(stateDir string, r *state.Run) bool {
	now, err := state.Load(stateDir, r.ID)
	if errors.Is(err, state.ErrNoContainer) {
		return true
	}
	if err != nil {
		_, lerr := os.Lstat(r.Upper)
		return lerr != nil
	}
	owned, forgotten := now.Ownership()
	// The layer looked at after its workshop: one that was removing it
	// and has ended since removed it, and its record, by then.
	if _, err := os.Lstat(r.Upper); err != nil || forgotten {
		return true
	}
	if !owned || now.Keep || now.Pid == 0 || now.OtherPIDNamespace() {
		// Killed (its layer stays for clean), kept, starting, or a pid
		// that means another process here: nothing removes it now.
		return false
	}
	return state.ParentPid(now.Pid) != now.WorkshopPid
}

// maxListed is how many bytes of names a diff gathers at most. A container
// can make a tree thousands of directories deep in its layer, each
// change's name the whole path to it: 20,000 levels of one letter are 400
// MB of names, and workshop runs as root, outside the container's memory
// limit. (A variable, for a test.)
var maxListed = 64 << 20

// changeList gathers the changes, and the bytes of their names.
type changeList struct {
	list  []Change
	bytes int
}

func (l *changeList) add(kind byte, path string) error {
	if l.bytes += len(path); l.bytes > maxListed {
		return fmt.Errorf("it holds more changes than diff lists: their names pass %s (a tree made very deep or very wide), at %s", imagetar.HumanSize(int64(maxListed)), shortPath(path))
	}
	l.list = append(l.list, Change{kind, path})
	return nil
}

// shortPath is a path of a diff, cut to its first and last 40 bytes.
func shortPath(p string) string {
	if len(p) <= 100 {
		return p
	}
	return strings.ToValidUTF8(p[:40], "") + "…" + strings.ToValidUTF8(p[len(p)-40:], "")
}

// diffDir adds the changes under one directory of the upper layer, open as
// ufd; lfd is the same directory in the lower layer, or -1 where the image
// has none (all below is added). inside is its path in the container ("" for
// the root), upper the layer's path, for messages.
func diffDir(ufd, lfd int, upper, inside string, changes *changeList) error {
	names, err := dirNames(ufd)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: upper + inside, Err: err}
	}
	for _, name := range names {
		p := inside + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(ufd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since the directory was read
			}
			return &os.PathError{Op: "fstatat", Path: upper + p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			if err := changes.add('D', p); err != nil {
				return err
			}
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
		if err := changes.add(kind, p); err != nil {
			return err
		}
		lowerDir := inLower && lst.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if lowerDir {
				// A file in place of the image's directory: all of
				// the directory is gone from the container's view.
				if err := deletedUnder(lfd, name, -1, p, changes); err != nil {
					return err
				}
			}
			continue
		}
		if lowerDir && opaque(ufd, name) {
			// The directory was replaced: the image's entries it no
			// longer has are deleted, though no whiteout says so.
			if err := deletedUnder(lfd, name, ufd, p, changes); err != nil {
				return err
			}
			lowerDir = false // what is in upper is all there is
		}
		if err := diffSubdir(ufd, lfd, name, lowerDir, upper, p, changes); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since the directory was read
			}
			return err
		}
	}
	return nil
}

// opaque reports whether the directory name in the open upper directory
// ufd is opaque: it hides the lower directory of that name wholesale.
func opaque(ufd int, name string) bool {
	fd, err := unix.Openat(ufd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [8]byte
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", buf[:])
	return err == nil && n == 1 && buf[0] == 'y'
}

// deletedUnder lists as deleted each entry of the image's directory name
// (in the open lower directory lfd) that the container no longer has: not
// in the upper directory of that name (in the open ufd), or all of them
// when ufd is -1. inside is the directory's path in the container.
func deletedUnder(lfd int, name string, ufd int, inside string, changes *changeList) error {
	lsub, err := unix.Openat(lfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: "the image's " + inside, Err: err}
	}
	defer unix.Close(lsub)
	usub := -1
	if ufd >= 0 {
		if usub, err = unix.Openat(ufd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
			defer unix.Close(usub)
		}
	}
	names, err := dirNames(lsub)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: "the image's " + inside, Err: err}
	}
	for _, n := range names {
		if usub >= 0 {
			var st unix.Stat_t
			if unix.Fstatat(usub, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				continue // there still, as the container's own
			}
		}
		if err := changes.add('D', inside+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// diffSubdir opens the directory name in both layers (in the lower one only
// if it is a directory there) and walks it.
func diffSubdir(ufd, lfd int, name string, lowerDir bool, upper, inside string, changes *changeList) error {
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
