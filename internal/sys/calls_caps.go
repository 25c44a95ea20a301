package sys

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

func init() {
	glosses["keyctl"] = "manage the kernel's keyrings (KEYCTL_JOIN_SESSION_KEYRING: a new, empty session keyring)"
}

// capNames are the capabilities' names, as strace prints them, by number
// (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapName is a capability's name (CAP_SYS_ADMIN), or its number where this
// table ends (a kernel newer than it).
func CapName(c int) string {
	if c >= 0 && c < len(capNames) {
		return capNames[c]
	}
	return strconv.Itoa(c)
}

// DropBoundingCap calls prctl(PR_CAPBSET_DROP, c): no program this process
// execs, nor any of its children's, can have capability c again, root or
// not (a root's execve otherwise gets every capability of the set).
func (n *Narrator) DropBoundingCap(c int) error {
	err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
	n.record("prctl", "PR_CAPBSET_DROP, "+CapName(c), 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_CAPBSET_DROP, %s): %w", CapName(c), err)
	}
	return nil
}

// JoinNewSessionKeyring calls keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): the
// process gets a new, empty session keyring in place of the one it
// inherited, whose keys (a login's, a sudo's) it could otherwise read.
func (n *Narrator) JoinNewSessionKeyring() error {
	id, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	var err error
	if errno != 0 {
		err = errno
	}
	n.record("keyctl", "KEYCTL_JOIN_SESSION_KEYRING, NULL", int(id), err)
	if err != nil {
		return fmt.Errorf("keyctl(KEYCTL_JOIN_SESSION_KEYRING): %w", err)
	}
	return nil
}
