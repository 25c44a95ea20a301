/*
 * leastc: the benchmark's measure of what the work costs when no Go
 * runtime starts at all. It runs a command the way
 * `workshop full run --memory 64M --pids 64` does (seven namespaces, a cgroup
 * v1 memory and pids limit the child is born under, an overlay root,
 * pivot_root, /proc, a /dev of bind mounts with /dev/shm and /dev/pts) and
 * does nothing else, like bench/leastgo, but in C, so its child needs no
 * re-exec: clone(2) runs the child's code in the new namespaces directly.
 * Not a runtime; a floor.
 * bench/fullrun builds it with the host's cc where there is one.
 *
 * Usage (as root, cgroup v1 memory and pids hierarchies):
 *   leastc ROOT LAYERDIR COMMAND
 * LAYERDIR must not exist; it is made for the run and removed after it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *command;
static char merged[4096], oldroot[4200];
static int release[2];

static void die(const char *what) {
	fprintf(stderr, "leastc: %s: %m\n", what);
	exit(125);
}

static void put(const char *path, const char *s) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		die(path);
	close(fd);
}

/* The child, in the new namespaces: wait for its uid and gid maps, make the
 * root, exec the command. */
static int child(void *unused) {
	/* No tty: the benchmark's runs have no terminal, and workshop's
	 * container then gets none. */
	static const char *devices[] = {"null", "zero", "full", "random", "urandom"};
	char c, p[4200], host[64];
	(void)unused;
	close(release[1]);
	if (read(release[0], &c, 1) != 1)
		die("wait for the release");
	if (sethostname("box", 3))
		die("sethostname");
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private");
	if (mount(merged, merged, NULL, MS_BIND | MS_REC, NULL))
		die("bind the root");
	snprintf(p, sizeof p, "%s/proc", merged);
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		die("mount /proc");
	snprintf(p, sizeof p, "%s/dev", merged);
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"))
		die("mount /dev");
	for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
		snprintf(p, sizeof p, "%s/dev/%s", merged, devices[i]);
		snprintf(host, sizeof host, "/dev/%s", devices[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0)
			die(p);
		close(fd);
		if (mount(host, p, NULL, MS_BIND, NULL))
			die(host);
	}
	snprintf(p, sizeof p, "%s/dev/shm", merged);
	if (mkdir(p, 01777) || mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"))
		die("mount /dev/shm");
	snprintf(p, sizeof p, "%s/dev/pts", merged);
	if (mkdir(p, 0755) || mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"))
		die("mount /dev/pts");
	snprintf(p, sizeof p, "%s/dev/ptmx", merged);
	if (symlink("pts/ptmx", p))
		die("link /dev/ptmx");
	if (syscall(SYS_pivot_root, merged, oldroot))
		die("pivot_root");
	if (chdir("/"))
		die("chdir");
	if (umount2("/.oldroot", MNT_DETACH))
		die("detach the old root");
	if (rmdir("/.oldroot"))
		die("rmdir the old root");
	char *argv[] = {(char *)command, NULL};
	execv(command, argv);
	die(command);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv) {
	static const char *hierarchies[] = {"memory", "pids"};
	static char stack[1 << 16] __attribute__((aligned(16)));
	char upper[4096], work[4096], opts[16384], group[2][256], p[4200];
	if (argc != 4) {
		fprintf(stderr, "usage: leastc ROOT LAYERDIR COMMAND\n");
		return 125;
	}
	const char *root = argv[1], *layer = argv[2];
	command = argv[3];
	snprintf(upper, sizeof upper, "%s/upper", layer);
	snprintf(work, sizeof work, "%s/work", layer);
	snprintf(merged, sizeof merged, "%s/rootfs", layer);
	snprintf(oldroot, sizeof oldroot, "%s/.oldroot", merged);
	if (mkdir(layer, 0755) || mkdir(upper, 0755) || mkdir(work, 0755) || mkdir(merged, 0755))
		die("make the layer");
	snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s,volatile", root, upper, work);
	if (mount("overlay", merged, "overlay", 0, opts))
		die("mount overlay");
	for (int i = 0; i < 2; i++) {
		snprintf(group[i], sizeof group[i], "/sys/fs/cgroup/%s/leastc-%d", hierarchies[i], getpid());
		if (mkdir(group[i], 0755))
			die(group[i]);
	}
	snprintf(p, sizeof p, "%s/memory.limit_in_bytes", group[0]);
	put(p, "67108864");
	snprintf(p, sizeof p, "%s/pids.max", group[1]);
	put(p, "64");
	if (mkdir(oldroot, 0700))
		die("mkdir .oldroot");

	/* As workshop does on v1: step into the groups ("0" in tasks moves only
	 * the writer, with no RCU wait), clone the child there, step back. */
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/tasks", group[i]);
		put(p, "0");
	}
	if (pipe2(release, O_CLOEXEC))
		die("pipe");
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID |
		    CLONE_NEWUSER | CLONE_NEWCGROUP | SIGCHLD;
	pid_t pid = clone(child, stack + sizeof stack, flags, NULL);
	if (pid < 0)
		die("clone");
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "/sys/fs/cgroup/%s/tasks", hierarchies[i]);
		put(p, "0");
	}
	close(release[0]);
	snprintf(p, sizeof p, "/proc/%d/uid_map", pid);
	put(p, "0 0 1\n");
	snprintf(p, sizeof p, "/proc/%d/setgroups", pid);
	put(p, "deny");
	snprintf(p, sizeof p, "/proc/%d/gid_map", pid);
	put(p, "0 0 1\n");
	if (write(release[1], "x", 1) != 1)
		die("release the child");

	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("wait");
	if (umount2(merged, MNT_DETACH))
		die("unmount the root");
	for (int i = 0; i < 2; i++)
		if (rmdir(group[i]))
			die(group[i]);
	if (nftw(layer, remove_one, 16, FTW_DEPTH | FTW_PHYS))
		die("remove the layer");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
