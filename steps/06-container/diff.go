package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
func Diff(lower, upper string) ([]Change, error) {
	var changes []Change
	err := filepath.WalkDir(upper, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, path)
		if err != nil || rel == "." {
			return err
		}
		inside := "/" + filepath.ToSlash(rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			changes = append(changes, Change{'D', inside})
			return nil
		}
		_, err = os.Lstat(filepath.Join(lower, rel))
		switch {
		case err == nil:
			changes = append(changes, Change{'C', inside})
		case errors.Is(err, fs.ErrNotExist):
			// Everything below an added directory is added too: the walk
			// goes on into it and lists it, as docker diff does.
			changes = append(changes, Change{'A', inside})
		default:
			return err
		}
		return nil
	})
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, err
}
