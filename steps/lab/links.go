package lab

import (
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// deadLinkOnTheWay walks p (a path inside root, as a chrooted program
// names it) one element at a time, each resolved inside root as the
// kernel resolves it in the jail, and returns the first element that
// leads to nothing when it is a symlink: its path inside root and the
// link's target (lib64 -> usr/lib64, copied by cp -r from a host whose
// /usr/lib64 the root lacks). It returns "", "" when p resolves, or when
// what is missing on the way is no symlink but a plain absence.
func deadLinkOnTheWay(root, p string) (link, target string) {
	clean := filepath.Clean("/" + p)
	at := "/"
	for _, elem := range strings.Split(strings.TrimPrefix(clean, "/"), "/") {
		if elem == "" {
			continue
		}
		next := filepath.Join(at, elem)
		real, err := securejoin.SecureJoin(root, next)
		if err != nil {
			return "", ""
		}
		if _, err := os.Stat(real); err == nil {
			at = next
			continue
		}
		dir, err := securejoin.SecureJoin(root, at)
		if err != nil {
			return "", ""
		}
		if t, err := os.Readlink(filepath.Join(dir, elem)); err == nil {
			return next, t
		}
		return "", ""
	}
	return "", ""
}

// firstLink is the first path on the way to p inside root (p itself last)
// that is a symlink, as it lies on the host, unresolved ("/bin" for a
// root whose bin is a link, "/bin/ls" for a link ls), or "".
func firstLink(root, p string) string {
	at := "/"
	for _, elem := range strings.Split(strings.TrimPrefix(filepath.Clean("/"+p), "/"), "/") {
		if elem == "" {
			continue
		}
		at = filepath.Join(at, elem)
		fi, err := os.Lstat(filepath.Join(root, at))
		if err != nil {
			return ""
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return at
		}
	}
	return ""
}
