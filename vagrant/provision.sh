#!/usr/bin/env bash
# Provisions a classroom machine for workshop: a Debian 12 VM made by the
# Vagrantfile, or, as CI does, any Debian 12 machine you are root on.
#
#   sudo vagrant/provision.sh                        # outside Vagrant
#   sudo WORKSHOP_CGROUP=v1 vagrant/provision.sh     # and boot into cgroup v1
#
# It installs what the lessons use (busybox-static, strace, cgroup-tools,
# tmux), a Go toolchain recent enough for go.mod when the machine has none,
# builds workshop from the source and installs it as /usr/local/bin/workshop.
# It is idempotent: a second run installs, downloads and rewrites nothing.
#
# Environment:
#   WORKSHOP_SRC     the workshop source (default: the checkout this script is in)
#   WORKSHOP_CGROUP  v1 or v2: make the next boot use that cgroup hierarchy
#                    (the Vagrantfile's machines set it; the caller reboots).
#                    Unset: the boot configuration is left alone.
#   WORKSHOP_GO_MIRROR  where to download Go from (default https://go.dev/dl),
#                    for a classroom behind a proxy; the SHA-256 stays pinned.
#   WORKSHOP_GOROOT  where to install Go (default /usr/local/go)
#   WORKSHOP_GRUB_DROPIN  the GRUB drop-in WORKSHOP_CGROUP=v1 writes (default
#                    /etc/default/grub.d/workshop-cgroup.cfg; CI checks the
#                    switch with one of its own, and an update-grub of its own)
set -euo pipefail

# The Go toolchain installed when the machine has none recent enough. Pinned,
# with the SHA-256 of each tarball as published on go.dev/dl, so that a
# provision today and one next term install the same bytes. To move on:
# change the version and both sums together.
GO_VERSION=1.26.4
GO_SHA256_amd64=1153d3d50e0ac764b447adfe05c2bcf08e889d42a02e0fe0259bd47f6733ad7f
GO_SHA256_arm64=ef758ae7c6cf9267c9c0ef080b8965f453d89ab2d25d9eb22de4405925238768
GO_URL=${WORKSHOP_GO_MIRROR:-https://go.dev/dl}
GOROOT_DIR=${WORKSHOP_GOROOT:-/usr/local/go}

# procps and iproute2 too, as scripts/install-deps has them: the lessons run
# ps on the host, and the base image takes its ip from the host.
PACKAGES=(busybox-static strace cgroup-tools tmux ca-certificates curl procps iproute2)
GRUB_DROPIN=${WORKSHOP_GRUB_DROPIN:-/etc/default/grub.d/workshop-cgroup.cfg}
PROFILE=/etc/profile.d/workshop.sh

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'provision: %s\n' "$*" >&2
	exit 1
}

# version_ge A B: is version A at least version B? ("1.26.8" "1.26.0")
version_ge() {
	[[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]
}

# put_file PATH CONTENT: write PATH only when its content differs, so that a
# second run changes nothing. Returns 0 when it wrote, 1 when it did not.
put_file() {
	if [[ -f $1 && "$(cat "$1")" == "$2" ]]; then
		return 1
	fi
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
	say "wrote $1"
}

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		say "packages: ${PACKAGES[*]} already installed"
		return
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# go_version GO: the version a go binary reports ("1.26.8"), or nothing.
go_version() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 0
	printf '%s\n' "${v#go}"
}

# find_go: the first Go toolchain on this machine recent enough for go.mod,
# printed as the path of its go binary.
find_go() {
	local candidate v
	for candidate in "$GOROOT_DIR/bin/go" "$(command -v go || true)"; do
		[[ -n $candidate && -x $candidate ]] || continue
		v=$(go_version "$candidate")
		if [[ -n $v ]] && version_ge "$v" "$GO_NEEDED"; then
			printf '%s\n' "$candidate"
			return
		fi
	done
}

install_go() {
	GO=$(find_go)
	if [[ -n $GO ]]; then
		say "Go $(go_version "$GO") at $GO is recent enough for go.mod (go $GO_NEEDED): not downloading one"
		return
	fi
	local arch sum tarball tmp
	arch=$(dpkg --print-architecture)
	case $arch in
	amd64) sum=$GO_SHA256_amd64 ;;
	arm64) sum=$GO_SHA256_arm64 ;;
	*) die "no pinned Go toolchain for $arch: install Go $GO_NEEDED or later in $GOROOT_DIR by hand" ;;
	esac
	tarball="go$GO_VERSION.linux-$arch.tar.gz"
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now: it is local to this function
	trap "rm -rf '$tmp'" EXIT
	say "downloading $tarball"
	curl --fail --location --silent --show-error --retry 3 -o "$tmp/$tarball" "$GO_URL/$tarball"
	printf '%s  %s\n' "$sum" "$tmp/$tarball" | sha256sum --check --quiet - ||
		die "$tarball does not have the pinned SHA-256: not installing it"
	# Unpack beside the old toolchain and swap, so that a failed unpack
	# leaves the machine as it was.
	tar -C "$tmp" -xzf "$tmp/$tarball"
	rm -rf "$GOROOT_DIR.old"
	[[ -e $GOROOT_DIR ]] && mv "$GOROOT_DIR" "$GOROOT_DIR.old"
	mv "$tmp/go" "$GOROOT_DIR"
	rm -rf "$GOROOT_DIR.old" "$tmp"
	trap - EXIT
	GO=$GOROOT_DIR/bin/go
	say "installed Go $(go_version "$GO") in $GOROOT_DIR"
}

build_workshop() {
	local tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now: it is local to this function
	trap "rm -rf '$tmp'" EXIT
	say "building workshop from $WORKSHOP_SRC"
	# GOTOOLCHAIN=local: build with this toolchain, never fetch another.
	# -buildvcs=false: the synced source belongs to the vagrant user, or
	# has no .git at all; VCS stamping would fail on either.
	# CGO_ENABLED=0: a static binary, which starts faster in every process of
	# a run (no ld.so, no cgo), as scripts/demo and scripts/bench build it.
	(cd "$WORKSHOP_SRC" && CGO_ENABLED=0 GOTOOLCHAIN=local "$GO" build -buildvcs=false -o "$tmp/workshop" ./cmd/workshop)
	if cmp -s "$tmp/workshop" /usr/local/bin/workshop; then
		say "/usr/local/bin/workshop is already this build"
	else
		install -m 0755 "$tmp/workshop" /usr/local/bin/workshop
		say "installed /usr/local/bin/workshop"
	fi
	rm -rf "$tmp"
	trap - EXIT
}

configure_shell() {
	local path_line=""
	if [[ $GO == "$GOROOT_DIR/bin/go" ]]; then
		# shellcheck disable=SC2016 # $PATH is for the login shell to expand
		path_line='case ":$PATH:" in *:'"$GOROOT_DIR"'/bin:*) ;; *) PATH="$PATH:'"$GOROOT_DIR"'/bin" ;; esac'
	fi
	# The greeting is for people at a prompt, not for "vagrant ssh -c".
	put_file "$PROFILE" "# workshop's classroom machine (vagrant/provision.sh)
$path_line
case \$- in *i*)
	[ -d /vagrant ] && echo 'workshop: the source is in /vagrant. Start with: sudo workshop doctor; workshop steps' ;;
esac" || true
}

# configure_cgroup: the boot options that pick the cgroup hierarchy. systemd
# 252 (Debian 12) boots cgroup v2 unless told otherwise; the two options
# give the full legacy v1 layout, where the walkthrough's cgcreate and
# memory.limit_in_bytes work as written.
configure_cgroup() {
	local want=${WORKSHOP_CGROUP:-} changed=no
	case $want in
	"")
		say "cgroups: boot configuration left alone (WORKSHOP_CGROUP unset)"
		return
		;;
	v1)
		# shellcheck disable=SC2016 # $GRUB_CMDLINE_LINUX is for update-grub to expand
		put_file "$GRUB_DROPIN" '# workshop: boot with cgroup v1 (vagrant/provision.sh, WORKSHOP_CGROUP=v1)
GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1"' && changed=yes
		;;
	v2)
		if [[ -e $GRUB_DROPIN ]]; then
			rm -f "$GRUB_DROPIN"
			say "removed $GRUB_DROPIN"
			changed=yes
		fi
		;;
	*) die "WORKSHOP_CGROUP=$want: give v1 or v2" ;;
	esac
	if [[ $changed == yes ]]; then
		command -v update-grub >/dev/null || die "no update-grub: cannot set the kernel command line for cgroup $want"
		update-grub 2>/dev/null
		say "cgroups: the next boot uses cgroup $want"
	else
		say "cgroups: the boot configuration already asks for cgroup $want"
	fi
}

main() {
	[[ $(id -u) == 0 ]] || die "run it as root (sudo $0)"
	command -v apt-get >/dev/null || die "this script provisions Debian (apt-get); on another system install Go, strace, busybox and cgroup-tools by hand"
	WORKSHOP_SRC=${WORKSHOP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	[[ -f $WORKSHOP_SRC/go.mod ]] || die "$WORKSHOP_SRC has no go.mod: set WORKSHOP_SRC to the workshop source"
	GO_NEEDED=$(awk '$1 == "go" { print $2; exit }' "$WORKSHOP_SRC/go.mod")
	[[ -n $GO_NEEDED ]] || die "$WORKSHOP_SRC/go.mod has no go line"
	# Fail now, not after a download, when go.mod has moved past the pin.
	version_ge "$GO_VERSION" "$GO_NEEDED" ||
		die "go.mod needs Go $GO_NEEDED, newer than the Go $GO_VERSION this script pins: update GO_VERSION and its SHA-256 sums"

	install_packages
	install_go
	build_workshop
	configure_shell
	configure_cgroup
	say "provisioned: $(/usr/local/bin/workshop --version)"
}

main "$@"
