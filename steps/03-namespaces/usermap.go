package namespaces

import (
	"fmt"
	"os"
	"strings"

	"github.com/workshop-dev/workshop/internal/sys"
)

// writeIDMaps writes the child's uid and gid maps, by hand, as the three
// files of user_namespaces(7):
//
//	/proc/PID/uid_map    "0 1000 1": uid 0 inside is uid 1000 outside, one id
//	/proc/PID/setgroups  "deny": needed before an unprivileged gid_map write
//	/proc/PID/gid_map    the same for groups
//
// Until they are written, the child's ids are unmapped: it is "nobody"
// (65534) inside its own namespace. Each file can be written once.
func writeIDMaps(n *sys.Narrator, pid int, uidMap, gidMap []IDMap) error {
	denySetgroups := false
	if uidMap == nil {
		uidMap = RootMap(os.Getuid())
	}
	if gidMap == nil {
		// unshare --map-root-user denies setgroups: an unprivileged user may
		// write a gid map only then, or it could drop a group that denies it
		// access to a file. workshop is root and does not need to, but does
		// what the walkthrough's command does.
		gidMap = RootMap(os.Getgid())
		denySetgroups = true
	}
	proc := fmt.Sprintf("/proc/%d/", pid)
	if err := n.Because("the user ids of the child's namespace: inside outside count").WriteFile(proc+"uid_map", formatIDMap(uidMap)); err != nil {
		return fmt.Errorf("write the container's uid map: %w", err)
	}
	if denySetgroups {
		if err := n.Because("forbid setgroups in the child: an unprivileged gid_map needs it").WriteFile(proc+"setgroups", []byte("deny")); err != nil {
			return fmt.Errorf("deny setgroups in the container: %w", err)
		}
	}
	if err := n.Because("the group ids of the child's namespace: inside outside count").WriteFile(proc+"gid_map", formatIDMap(gidMap)); err != nil {
		return fmt.Errorf("write the container's gid map: %w", err)
	}
	return nil
}

// formatIDMap renders a map as the kernel reads it: one "inside outside
// count" line per range.
func formatIDMap(m []IDMap) []byte {
	var b strings.Builder
	for _, r := range m {
		b.WriteString(r.String() + "\n")
	}
	return []byte(b.String())
}
