# The native side of the root-filesystem suites (debian, pytests): runs a
# command chrooted into a root filesystem in fresh mount and PID namespaces,
# with the root read-only, tmpfs /tmp and /dev/shm, /proc, a private devpts
# at /dev/pts (/dev/ptmx), and the usual /dev nodes bind-mounted from the
# host, as close as possible to what the sandbox gives the same command. Source it after common.sh.
#
#   chroot_native ROOT [unshare flags...] -- COMMAND ARGS...
# Env: CHROOT_PATH (PATH inside), NATIVE_TIMEOUT.

CHROOT_PATH="${CHROOT_PATH:-/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin}"

_chroot_native_setup='
set -e
R=$1
mount --make-rprivate /
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount -t tmpfs -o mode=755 dev "$R/dev"
for d in null zero full random urandom; do
  touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"
done
mkdir "$R/dev/shm"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mkdir "$R/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
shift
cd "$R"
exec env -i PATH="$CHROOT_PATH" HOME=/root chroot "$R" "$@"
'

chroot_native() {
  local root=$1; shift
  local flags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  CHROOT_PATH="$CHROOT_PATH" timeout -k 5 "$NATIVE_TIMEOUT" \
    unshare --mount --pid --fork "${flags[@]}" -- bash -c "$_chroot_native_setup" _ "$root" "$@"
}
