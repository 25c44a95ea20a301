package namespaces

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// pathOf returns the PATH of an environment, or the default one.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

// lookPath finds a command on a PATH as a shell does, in the current root
// (the container's, once chrooted): a name with a slash is taken as it is; a
// bare name is the first executable file of that name in the PATH's
// directories, or failing that the first non-executable one (so that execve
// says EACCES and the exit status is 126, as in a shell). os/exec's LookPath
// is not used because it reads workshop's PATH, not the container's.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	notExecutable := ""
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
		if notExecutable == "" {
			notExecutable = p
		}
	}
	if notExecutable != "" {
		return notExecutable, nil
	}
	return "", fmt.Errorf("%s: command not found in the container's root (PATH=%s)", name, path)
}

// InRoot reports whether the command name is present in root: the path
// itself for a name with a slash, else name in one of the directories of
// the default PATH. Something of that name is enough (a symlink is not
// followed, since its target is resolved inside the root only after chroot):
// it tells workshop whether step 2 must copy the command in first. The
// directories on the way are resolved as the container will see them,
// inside the root (securejoin): a root whose usr is a symlink to / must
// not find the host's /usr/bin/ls and take it for its own.
func InRoot(root, name string) bool {
	if strings.Contains(name, "/") {
		return presentIn(root, filepath.Dir(name), filepath.Base(name))
	}
	for _, dir := range filepath.SplitList(defaultPath) {
		if presentIn(root, dir, name) {
			return true
		}
	}
	return false
}

// presentIn reports whether dir/name exists in root, dir resolved inside it.
func presentIn(root, dir, name string) bool {
	full, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return false
	}
	_, err = os.Lstat(filepath.Join(full, name))
	return err == nil
}
