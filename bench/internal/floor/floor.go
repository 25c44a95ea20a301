// Package floor is what the benchmark's Go floors (bench/leastgo and
// bench/leastfork) do alike around their child: the overlay root, the cgroup
// v1 memory and pids groups the child is born in, and undoing both. What
// differs between them, how the child is made, is theirs.
package floor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Setup is one run's overlay and groups.
type Setup struct {
	Merged string   // the overlay's mount point: the container's root, with an .oldroot for pivot_root
	Groups []string // the memory group (64 MiB) and the pids group (64)
	undo   []func()
}

func write(path, s string) error { return os.WriteFile(path, []byte(s), 0) }

// Prepare mounts an overlay of root with its layer in layer (which must not
// exist) and makes the groups, named prog-PID. On error, what it made is
// undone.
func Prepare(prog, root, layer string) (*Setup, error) {
	s := &Setup{}
	if err := s.prepare(prog, root, layer); err != nil {
		// s, not a named result: each failure returns nil, which a
		// deferred s.Undo() would then be called on.
		s.Undo()
		return nil, err
	}
	return s, nil
}

func (s *Setup) prepare(prog, root, layer string) error {
	upper, work, merged := filepath.Join(layer, "upper"), filepath.Join(layer, "work"), filepath.Join(layer, "rootfs")
	if err := os.Mkdir(layer, 0o755); err != nil {
		return err
	}
	s.undo = append(s.undo, func() { os.RemoveAll(layer) })
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + root + ",upperdir=" + upper + ",workdir=" + work + ",volatile"
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	s.undo = append(s.undo, func() { syscall.Unmount(merged, syscall.MNT_DETACH) })
	s.Merged = merged

	name := prog + "-" + strconv.Itoa(os.Getpid())
	for _, h := range []string{"memory", "pids"} {
		g := filepath.Join("/sys/fs/cgroup", h, name)
		if err := os.Mkdir(g, 0o755); err != nil {
			return err
		}
		s.undo = append(s.undo, func() { syscall.Rmdir(g) })
		s.Groups = append(s.Groups, g)
	}
	if err := write(filepath.Join(s.Groups[0], "memory.limit_in_bytes"), "67108864"); err != nil {
		return err
	}
	if err := write(filepath.Join(s.Groups[1], "pids.max"), "64"); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(merged, ".oldroot"), 0o700); err != nil {
		return err
	}
	return nil
}

// Undo removes the groups, unmounts the overlay and removes the layer, in
// the reverse order of their making.
func (s *Setup) Undo() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// Enter moves the calling thread, which the caller has locked, into the
// groups ("0" in tasks moves only the writer, with no RCU wait), so that
// the child it clones is born in them, as workshop does on v1. If it
// fails, the thread is moved back.
func (s *Setup) Enter() error {
	for _, g := range s.Groups {
		if err := write(filepath.Join(g, "tasks"), "0"); err != nil {
			s.Leave()
			return err
		}
	}
	return nil
}

// Leave moves the calling thread back to each hierarchy's root group: a
// group with the thread in it could not be removed.
func (s *Setup) Leave() {
	for _, g := range s.Groups {
		write(filepath.Join(filepath.Dir(g), "tasks"), "0")
	}
}
