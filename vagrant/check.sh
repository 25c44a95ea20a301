#!/usr/bin/env bash
# Checks a provisioned classroom machine: it booted with the cgroup hierarchy
# asked for, the walkthrough's own cgroup commands work on it as written,
# and `workshop doctor` passes. The Vagrantfile runs it last; CI runs it
# after vagrant/provision.sh.
#
#   sudo vagrant/check.sh                       # any hierarchy
#   sudo WORKSHOP_CGROUP=v1 vagrant/check.sh    # and insist on cgroup v1
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'check: %s\n' "$*" >&2
	exit 1
}

# cgroup_mode: v2 when /sys/fs/cgroup is a cgroup2 filesystem; v1 when it
# holds v1 hierarchies and no cgroup2 beside them; hybrid when it holds both.
cgroup_mode() {
	if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
		echo v2
	elif grep -q ' - cgroup2 ' /proc/self/mountinfo; then
		echo hybrid
	else
		echo v1
	fi
}

# walkthrough_v1: the walkthrough's cgroup commands, word for word but for
# the group's name: cgcreate in five v1 hierarchies, cgclassify a process
# into them, cgset the 80M memory limit, read it back. A sleep stands in for
# the container's shell; it and the group are removed again.
walkthrough_v1() {
	local group=workshop-check-$$ controllers=cpu,memory,blkio,devices,freezer sleeper limit
	sleep 60 &
	sleeper=$!
	# shellcheck disable=SC2064 # expand the names now
	trap "kill $sleeper 2>/dev/null || true; remove_group $group $controllers" EXIT
	cgcreate -g "$controllers:/$group"
	cgclassify -g "$controllers:$group" "$sleeper"
	grep -q ":memory:/$group\$" "/proc/$sleeper/cgroup" || die "cgclassify did not move $sleeper into $group: $(cat "/proc/$sleeper/cgroup")"
	cgset -r memory.limit_in_bytes=80M "$group"
	limit=$(cgget -nv -r memory.limit_in_bytes "$group")
	[[ $limit == $((80 * 1024 * 1024)) ]] || die "cgset -r memory.limit_in_bytes=80M set $limit"
	kill "$sleeper"
	wait "$sleeper" 2>/dev/null || true
	remove_group "$group" "$controllers"
	trap - EXIT
	say "cgcreate, cgclassify, cgset -r memory.limit_in_bytes=80M and cgget work as the walkthrough writes them"
}

# remove_group GROUP CONTROLLERS: cgdelete, one controller at a time.
# Debian 12's cgdelete (cgroup-tools 2.0.2), given "-g cpu,memory,…:/g",
# removes the group from the first controller only and still exits 0, so
# the walkthrough's one-line cgdelete would leave the group behind.
remove_group() {
	local c
	for c in ${2//,/ }; do
		if [[ -d /sys/fs/cgroup/$c/$1 ]]; then
			cgdelete -g "$c:/$1"
		fi
	done
	for c in ${2//,/ }; do
		[[ ! -d /sys/fs/cgroup/$c/$1 ]] || die "cgdelete left /sys/fs/cgroup/$c/$1"
	done
}

main() {
	[[ $(id -u) == 0 ]] || die "run it as root (sudo $0)"
	local mode want=${WORKSHOP_CGROUP:-}
	mode=$(cgroup_mode)
	say "cgroups: $mode"
	if [[ -n $want && $mode != "$want" ]]; then
		die "this machine booted with cgroup $mode, not $want: was it rebooted after provisioning? (vagrant reload)"
	fi
	# Where memory is a v1 hierarchy (v1, and hybrid hosts like CI), the
	# walkthrough's commands must work as written.
	if [[ -d /sys/fs/cgroup/memory && $(stat -fc %T /sys/fs/cgroup/memory) == cgroupfs ]]; then
		walkthrough_v1
	fi
	workshop doctor
}

main "$@"
