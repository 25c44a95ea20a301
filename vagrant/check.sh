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
# the group's name, on the v1 memory hierarchy. The group is removed again.
walkthrough_v1() {
	local group=workshop-check-$$
	trap 'cgdelete -g "memory:/'"$group"'" 2>/dev/null || true' EXIT
	cgcreate -g "memory:/$group"
	cgset -r memory.limit_in_bytes=80M "$group"
	local limit
	limit=$(cgget -nv -r memory.limit_in_bytes "$group")
	[[ $limit == $((80 * 1024 * 1024)) ]] || die "cgset -r memory.limit_in_bytes=80M set $limit"
	cgdelete -g "memory:/$group"
	trap - EXIT
	say "cgcreate, cgset -r memory.limit_in_bytes=80M and cgget work as the walkthrough writes them"
}

main() {
	[[ $(id -u) == 0 ]] || die "run it as root (sudo $0)"
	local mode want=${WORKSHOP_CGROUP:-}
	mode=$(cgroup_mode)
	say "cgroups: $mode"
	if [[ -n $want && $mode != "$want" ]]; then
		die "this machine booted with cgroup $mode, not $want: was it rebooted after provisioning? (vagrant reload)"
	fi
	if [[ -d /sys/fs/cgroup/memory && $(stat -fc %T /sys/fs/cgroup/memory) == cgroupfs ]]; then
		walkthrough_v1
	fi
	workshop doctor
}

main "$@"
