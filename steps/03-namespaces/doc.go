// Package namespaces is step 3 of the walkthrough: the chrooted shell of
// step 2 gets its own namespaces, as
//
//	unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot my-new-root bash
//
// does, plus the cgroup namespace. It reads like the lesson's list of
// system calls:
//
//	parent (workshop)                      child (the container's first process)
//	[step 4: make the group; on v1 a thread
//	  steps into it, "0" into tasks]
//	clone(CLONE_NEWNS|CLONE_NEWUTS|…)  ->  execve("/proc/self/exe", ["workshop", "__init", "namespaces"])
//	[step 4, v1: the thread steps back]    (waits on fd 3 until the parent says go)
//	write /proc/PID/uid_map, setgroups,
//	  gid_map
//	close(fd 3): Release               ->  prctl(PR_SET_PDEATHSIG), unshare(CLONE_NEWCGROUP),
//	                                       sethostname, mount("/", MS_REC|MS_PRIVATE),
//	                                       mount proc, a tmpfs /dev with its devices,
//	                                       chroot + chdir (or pivot_root), execve(command)
//	wait4: the command's exit status
//
// Go cannot fork without exec, so the child is workshop itself, re-executed
// (internal/reexec). With Config.Init it stays as PID 1, a tiny init that
// runs the command as its child (pid1.go).
//
// Start, Release and Wait are separate so that step 4 can put the child in
// its cgroup before anything of the command runs.
package namespaces
