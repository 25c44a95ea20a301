package doctor

import (
	"errors"

	"golang.org/x/sys/unix"
)

// MountNSNotOurs reports whether the mount namespace workshop runs in
// belongs to a user namespace other than its own: workshop is then root of
// a user namespace made without a mount namespace of its own (`unshare
// --user --map-root-user` without --mount), and the kernel refuses it
// every mount there (EPERM), step 6's overlay first, though a mount in a
// namespace it makes (doctor's probe, a container's) works. (open, ioctl
// and fstat of namespace files, looks that change nothing: not narrated.)
func MountNSNotOurs() bool {
	fd, err := unix.Open("/proc/self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	owner, err := unix.IoctlRetInt(fd, unix.NS_GET_USERNS)
	if errors.Is(err, unix.EPERM) {
		return true // its owner is outside this user namespace, an ancestor
	}
	if err != nil {
		return false // a kernel before 4.9: nothing to say
	}
	defer unix.Close(owner)
	var mine, its unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &mine) != nil || unix.Fstat(owner, &its) != nil {
		return false
	}
	return mine.Ino != its.Ino || mine.Dev != its.Dev
}

// mountNSFinding is the mounts' finding where workshop's own mount
// namespace is not its user namespace's.
func mountNSFinding() Finding {
	return Finding{Status: Fail, Name: "mount namespace",
		Detail: "workshop runs as root of a user namespace, in a mount namespace that is not that user namespace's: the kernel refuses it every mount there, and step 6 mounts its container's overlay there (the probes below make a mount namespace of their own, where mounts work)",
		Fix:    "give the user namespace a mount namespace of its own (unshare --user --map-root-user --mount …), or run workshop as the host's root"}
}
