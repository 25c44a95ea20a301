package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	"golang.org/x/sys/unix"
)

func init() {
	var f runFlags
	var initFlag bool
	var mapUsers string
	c := &cobra.Command{
		Use:   "3 [--root DIR] [--ns LIST] [--hostname NAME] [--init] [--map-users root|HOSTUID[:COUNT]] [-- CMD ARGS…]",
		Short: "namespaces: the chrooted shell gets its own mounts, hostname, IPC, network, PIDs and users",
		Long: `Step 3 does what the walkthrough's
  unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root bash
does, plus the cgroup namespace: workshop re-executes itself with the clone
flags of the namespaces (--ns, default all seven), writes the uid and gid maps,
and inside sets the hostname, makes mounts private, mounts /proc and a minimal
/dev, chroots and runs the command (default: bash), which is PID 1.

--map-users root (the default) maps root inside to you outside, as
--map-root-user does; --map-users 100000:65536 maps root inside to host uid
100000, a user with no rights on the host.
--init runs a tiny init as PID 1 that reaps zombies and passes signals on.`,
		Args: commandAfterDash,
		RunE: func(c *cobra.Command, args []string) error {
			if err := requireRootAndProc("step 3"); err != nil {
				return err
			}
			flags, err := parseNSFlag(f)
			if err != nil {
				return err
			}
			uidMap, gidMap, err := parseMapUsers(mapUsers)
			if err != nil {
				return err
			}
			// The maps are the user namespace's: without it they would be
			// dropped, and the container's root would be the host's.
			if c.Flags().Changed("map-users") && flags&unix.CLONE_NEWUSER == 0 {
				return usageError("--map-users %s needs the user namespace, or the container's root is the host's root: add user to --ns", mapUsers)
			}
			root := f.root
			if root == "" {
				root = filepath.Join(global.stateDir, "my-new-root")
			} else if err := checkRootFlag(root); err != nil {
				return err
			}
			cmdArgs := args
			if len(cmdArgs) == 0 {
				// Interactive on a terminal; otherwise bash reads its
				// commands from stdin, so the step works in a pipe.
				cmdArgs = []string{"/bin/bash"}
			}
			if err := explainNow(); err != nil {
				return err
			}
			defer holdSteps()()
			n := narrator()
			run, err := namespaces.EnsureCommand(n, root, cmdArgs[0])
			if err != nil {
				if exit.Status(err) > exit.SignalBase {
					return err // a copy stopped by a signal: its 128+n, and its sentence, which names the root
				}
				return exit.Errorf(exit.ToolFailed, "step 3: fill the root %s: %w", root, err)
			}
			cmdArgs = append([]string{run}, cmdArgs[1:]...)
			status, err := namespaces.Run(n, namespaces.Config{
				Root:       root,
				Args:       cmdArgs,
				Namespaces: f.ns,
				Hostname:   f.hostname,
				UIDMap:     uidMap,
				GIDMap:     gidMap,
				Init:       initFlag,
				StateDir:   global.stateDir,
				Stdin:      os.Stdin,
				Stdout:     os.Stdout,
				Stderr:     os.Stderr,
			})
			if err != nil {
				if exit.Status(err) != exit.ToolFailed {
					return err // interrupted before the command ran: 128+n, said
				}
				return exit.Errorf(exit.ToolFailed, "step 3: %w", err)
			}
			if status != 0 {
				return exit.Code(status, nil)
			}
			return nil
		},
	}
	addRunFlags(c, &f, withRoot|withNamespaces)
	c.Flags().BoolVar(&initFlag, "init", false, "run a tiny init as PID 1 that reaps zombies and passes signals on (docker run --init)")
	c.Flags().StringVar(&mapUsers, "map-users", "root", "user namespace map: 'root' (root inside is you outside, as --map-root-user) or HOSTUID[:COUNT] (root inside is host uid HOSTUID)")
	addStep(stepInfo{N: 3, Name: "namespaces", Short: "unshare: the chrooted shell gets its own namespaces, and is PID 1", Cmd: c})
}

// maxID is the largest uid or gid: 2^32-2 ((uid_t)-1 means none).
const maxID = 1<<32 - 2

// parseMapUsers reads --map-users: "root", or "HOSTUID[:COUNT]" for a range
// of host ids (the same numbers for uids and gids).
func parseMapUsers(s string) (uidMap, gidMap []namespaces.IDMap, err error) {
	if s == "root" {
		return nil, nil, nil
	}
	startText, countText, hasCount := strings.Cut(s, ":")
	start, err1 := strconv.ParseInt(startText, 10, 64)
	count := int64(namespaces.DefaultRangeCount)
	var err2 error
	if hasCount {
		count, err2 = strconv.ParseInt(countText, 10, 64)
	}
	// Host uid 0 may start a range: 0:1 is what 'root' maps when root
	// runs workshop, and 0:4294967295 the identity.
	if err1 != nil || err2 != nil || start < 0 || count < 1 {
		return nil, nil, usageError("--map-users %q: give 'root', or the first host uid of a range and its size, e.g. 100000:65536", s)
	}
	// Ids are 32 bits, and 4294967295 is (uid_t)-1, "no id": the kernel
	// takes none past 4294967294, and would cut a larger number down.
	if start+count-1 > maxID {
		return nil, nil, usageError("--map-users %q: host ids end at %d, and the range %d:%d goes past it", s, maxID, start, count)
	}
	m := namespaces.HostRange(int(start), int(count))
	return m, m, nil
}
