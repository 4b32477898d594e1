# shellcheck shell=bash
#
# container.sh — a throwaway systemd container for the `system` test suite.
#
# Source it from a bash test, then:
#
#   container_require || exit $?        # 77 (skip) without systemd-nspawn or /dev/fuse
#   container_boot [STAGED_PREFIX]      # boots, adds the test user, waits for its manager
#   container_run CMD...                # as root inside
#   container_user CMD...               # as the test user: systemctl/busctl/journalctl --user
#   ...                                 # container_teardown runs as the EXIT trap
#
# Also: container_wait_user_manager (after restarting user@UID.service),
# container_install_staged (after changing the staged tree), container_diagnose.
#
# How it works:
#
# * The container is the host's own /usr booted by systemd-nspawn with a
#   volatile (tmpfs) root: /etc is an overlay of the host's /etc with a tmpfs
#   upper layer, so useradd, unit files and the like vanish at poweroff and the
#   host's /etc is never written. Only /var/log/journal is a real directory (a
#   temporary one on the host): journald splits per-user journal files
#   (user-UID.journal, readable by that user through an ACL) only on persistent
#   storage, and without them `journalctl --user` shows nothing.
# * --register=no --keep-unit: the host's PID 1 is not systemd, so there is no
#   machined and machinectl does not know the container. The container's PID 1
#   (the "leader") is found as the child of the nspawn process that is PID 1 in
#   its own PID namespace (last field of NSpid in /proc/PID/status) and has
#   exec'ed systemd; every command then goes in through `nsenter -t LEADER -a`.
# * /dev/fuse is a private device node made inside the container (mknod, mode
#   0666 as on Debian), not a --bind of the host's: a chmod on a bound node
#   would change the host's /dev/fuse too (same inode).
# * A staged install (`meson install --destdir D` of a build configured with
#   --prefix=/opt/pyfs; pass D/opt/pyfs) is bound read-only at /opt/pyfs.
#   Its user units (/opt/pyfs/lib/systemd/user/*) are copied into
#   /etc/systemd/user before the user manager starts, so `systemctl --user`
#   finds them exactly as it finds a packaged unit (no daemon-reload, no
#   "linked" state as `systemctl --user link` would give, host untouched
#   because /etc is the container's overlay). Its D-Bus session services
#   (/opt/pyfs/share/dbus-1/services) are added to the session bus by a
#   session.d snippet.
# * Teardown: SIGTERM to nspawn (it halts the container) with a deadline,
#   then SIGKILL to the leader (kills the whole PID namespace, and with it
#   every mount of the container). A guard process in its own session holds
#   the read end of a pipe that only the test shell writes: if the test is
#   SIGKILLed (meson does it 0.5 s after its SIGTERM on a timeout), the guard
#   sees EOF, kills the leader and removes the temporary directory, so no
#   container outlives its test.
#
# Learnt here, for the units tested with it:
# * An unprivileged FUSE mount goes through the setuid fusermount3 (libfuse
#   does it too): NoNewPrivileges=yes (or anything implying it) breaks it.
# * The default KillMode=control-group SIGTERMs every process of the unit, so
#   a `fusermount3 -u` forked on SIGTERM can be killed before it unmounts
#   (seen under load): use KillMode=mixed.
# * Never kill an nsenter from the host side (no `timeout nsenter ...`; put
#   `timeout` inside): its orphaned child is reparented to the *host's* init,
#   not the container's, and its zombie holds up the container's shutdown.
#
# Settings (before container_boot): CONTAINER_USER (tester), CONTAINER_UID
# (2000), CONTAINER_BOOT_TIMEOUT (120 s), CONTAINER_STOP_TIMEOUT (30 s),
# CONTAINER_NSPAWN_ARGS and CONTAINER_INIT_ARGS (arrays of extra options for
# systemd-nspawn and for the container's systemd, e.g. systemd.log_level=debug).
# Set by container_boot: CONTAINER_NAME, CONTAINER_LEADER, CONTAINER_NSPAWN_PID,
# CONTAINER_WORKDIR, CONTAINER_CONSOLE (console output), CONTAINER_JOURNAL_DIR,
# CONTAINER_HOME, CONTAINER_BOOT_SECONDS.

: "${CONTAINER_USER:=tester}"
: "${CONTAINER_UID:=2000}"
: "${CONTAINER_BOOT_TIMEOUT:=120}"
: "${CONTAINER_STOP_TIMEOUT:=30}"
[[ -v CONTAINER_NSPAWN_ARGS ]] || CONTAINER_NSPAWN_ARGS=()
[[ -v CONTAINER_INIT_ARGS ]] || CONTAINER_INIT_ARGS=()

CONTAINER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

_container_log() { printf 'container: %s\n' "$*" >&2; }

# Times in microseconds ($EPOCHREALTIME without its locale's decimal point);
# a deadline is whole seconds from now.
_container_now() { echo "${EPOCHREALTIME//[!0-9]/}"; }
_container_deadline() { echo $(( $(_container_now) + ${1%.*} * 1000000 )); }
_container_before() { (( $(_container_now) < $1 )); }
_container_left() { echo $(( ($1 - $(_container_now)) / 1000000 + 1 )); } # whole seconds, >= 1
_container_since() { # START (a _container_now) -> elapsed seconds, 0.1 s precision
  local us=$(( $(_container_now) - $1 ))
  printf '%d.%d' $(( us / 1000000 )) $(( us % 1000000 / 100000 ))
}

# True while PID exists and is not a zombie (an exited child not yet reaped).
_container_pid_running() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# The child of nspawn PID $1 that is PID 1 of its own namespace and runs
# systemd (or anything, with "any": to kill it before it has exec'ed systemd).
_container_find_leader() {
  local child nspid comm
  for child in $(pgrep -P "$1"); do
    nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$child/status" 2>/dev/null)
    read -r comm 2>/dev/null <"/proc/$child/comm" || continue
    if [[ $nspid =~ [[:space:]]1$ && ($comm == systemd || ${2-} == any) ]]; then
      echo "$child"
      return 0
    fi
  done
  return 1
}

_container_console_tail() {
  [[ -n ${CONTAINER_CONSOLE-} && -f $CONTAINER_CONSOLE && -z ${_container_console_shown-} ]] ||
    return 0
  _container_console_shown=1
  printf -- '--- container console (last 40 lines) ---\n' >&2
  tail -n 40 "$CONTAINER_CONSOLE" | sed 's/\x1b\[[0-9;]*m//g' >&2
  printf -- '--- end of console ---\n' >&2
}

# --- for the tests: TAP-like checks and polling ---------------------------
# ok DESCRIPTION: one line in the file $passes per passed check (a test's
# subshells included), and the TAP line. fail DESCRIPTION: ends the test.
ok() { echo >>"$passes"; echo "ok $(wc -l <"$passes") - $*"; }
fail() {
  echo "not ok - $*" >&2
  exit 1
}

# Polls CMD... until it succeeds, for at most $1 seconds.
eventually() {
  local deadline
  deadline=$(_container_deadline "$1")
  shift
  until "$@"; do
    _container_before "$deadline" || return 1
    sleep 0.1
  done
}

# container_require: 0 when a container can be booted here; 77 (skip) when
# systemd-nspawn or /dev/fuse is missing; 1 when something else is wrong.
container_require() {
  if ! command -v systemd-nspawn >/dev/null; then
    echo "SKIP: systemd-nspawn not found (package systemd-container)" >&2
    return 77
  fi
  if [[ ! -c /dev/fuse ]]; then
    echo "SKIP: /dev/fuse not available" >&2
    return 77
  fi
  if (( EUID != 0 )); then
    echo "FAIL: the system tests boot a container and must run as root" >&2
    return 1
  fi
  local tool
  for tool in nsenter runuser pgrep setsid timeout; do
    if ! command -v "$tool" >/dev/null; then
      echo "FAIL: $tool not found" >&2
      return 1
    fi
  done
  return 0
}

# The guard: run in its own session with the read end of a pipe as stdin.
# Args: NSPAWN_PID WORKDIR NAME.
# shellcheck disable=SC2016
_container_guard_script='
nspawn=$1 work=$2 name=$3 disarmed=
running() { # not a zombie: once the test shell is gone, no one may reap nspawn soon
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}
while read -r line; do [[ $line == disarm ]] && disarmed=1; done
if [[ -z $disarmed && "$(cat /proc/$nspawn/comm 2>/dev/null)" == systemd-nspawn ]]; then
  for child in $(pgrep -P "$nspawn"); do
    grep -Eq "^NSpid:.*[[:space:]]1$" /proc/$child/status 2>/dev/null && kill -KILL "$child"
  done
  for _ in $(seq 100); do running "$nspawn" || break; sleep 0.1; done
  running "$nspawn" && kill -KILL "$nspawn"
fi
rm -rf -- "$work"
rmdir "/run/systemd/nspawn/propagate/$name" 2>/dev/null
exit 0
'

# container_boot [STAGED_PREFIX]
# Boots the container (STAGED_PREFIX bound read-only at /opt/pyfs), waits for
# the boot to finish, creates the test user, installs the staged user units,
# enables lingering and waits for the user manager. Installs container_teardown
# as the EXIT trap (and exits on HUP/INT/TERM so that it runs). Returns
# non-zero with a message and the console output when anything fails.
container_boot() {
  local staged=${1-} start deadline state out
  local -
  set +e
  start=$(_container_now)
  if [[ -n ${CONTAINER_NSPAWN_PID-} ]]; then
    _container_log "container_boot: a container is already running ($CONTAINER_NAME)"
    return 1
  fi
  container_require || return
  if [[ -n $staged && ! -d $staged ]]; then
    _container_log "container_boot: staged install $staged is not a directory"
    return 1
  fi

  CONTAINER_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-container.XXXXXX") || return 1
  CONTAINER_NAME=pyfs-test-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  CONTAINER_CONSOLE=$CONTAINER_WORKDIR/console.log
  CONTAINER_JOURNAL_DIR=$CONTAINER_WORKDIR/journal
  CONTAINER_HOME=/home/$CONTAINER_USER
  CONTAINER_LEADER=
  mkdir "$CONTAINER_JOURNAL_DIR" || return 1

  trap container_teardown EXIT
  trap '_container_signalled=1; exit 129' HUP
  trap '_container_signalled=1; exit 130' INT
  trap '_container_signalled=1; exit 143' TERM

  local args=(-D / --volatile=yes --register=no --keep-unit -M "$CONTAINER_NAME"
    --overlay=/etc::/etc --bind="$CONTAINER_JOURNAL_DIR:/var/log/journal"
    --console=read-only)
  [[ -n $staged ]] && args+=(--bind-ro="$(realpath "$staged"):/opt/pyfs")
  args+=("${CONTAINER_NSPAWN_ARGS[@]}" -b systemd.firstboot=off "${CONTAINER_INIT_ARGS[@]}")
  # Its own session: a Ctrl-C or meson's kill of the test's process group
  # must not kill nspawn alone, which would orphan the container.
  setsid systemd-nspawn "${args[@]}" \
    </dev/null >"$CONTAINER_CONSOLE" 2>&1 &
  CONTAINER_NSPAWN_PID=$!
  exec {CONTAINER_GUARD_FD}> >(exec setsid bash -c "$_container_guard_script" container-guard \
    "$CONTAINER_NSPAWN_PID" "$CONTAINER_WORKDIR" "$CONTAINER_NAME" >/dev/null 2>&1)
  CONTAINER_GUARD_PID=$!

  deadline=$(_container_deadline "$CONTAINER_BOOT_TIMEOUT")
  while ! CONTAINER_LEADER=$(_container_find_leader "$CONTAINER_NSPAWN_PID"); do
    if ! _container_pid_running "$CONTAINER_NSPAWN_PID"; then
      _container_log "systemd-nspawn exited before starting systemd"
      _container_console_tail
      return 1
    fi
    if ! _container_before "$deadline"; then
      _container_log "systemd did not start in the container within ${CONTAINER_BOOT_TIMEOUT}s"
      _container_console_tail
      return 1
    fi
    sleep 0.05
  done

  # is-system-running --wait blocks until the boot is over, once the manager
  # answers at all ("offline" or a bus error before that: retry). The timeout
  # runs inside: killing nsenter would orphan systemctl to the *host's* init,
  # a zombie that systemd-shutdown then waits 10 s for.
  while :; do
    state=$(container_run timeout "$(_container_left "$deadline")" \
      systemctl is-system-running --wait 2>&1)
    case $state in
      running) _container_booted=1; break ;;
      degraded)
        _container_booted=1
        _container_log "booted degraded; failed units (ignored):" \
          "$(container_run systemctl list-units --failed --plain --no-legend | cut -d' ' -f1 | xargs)"
        break ;;
    esac
    if ! _container_pid_running "$CONTAINER_NSPAWN_PID" || ! _container_before "$deadline" ||
      [[ $state == @(maintenance|stopping) ]]; then
      [[ -n $state ]] || state=$(container_run systemctl is-system-running 2>&1)
      _container_log "container $CONTAINER_NAME did not boot within ${CONTAINER_BOOT_TIMEOUT}s" \
        "(system state: ${state:-none})"
      _container_console_tail
      return 1
    fi
    sleep 0.1
  done

  if ! out=$(container_run useradd -m -u "$CONTAINER_UID" "$CONTAINER_USER" 2>&1) ||
    ! out=$(container_run mknod -m 0666 /dev/fuse c 10 229 2>&1); then
    _container_log "container setup failed: $out"
    return 1
  fi
  if [[ -n $staged ]]; then
    if ! container_user test -r /opt/pyfs/. -a -x /opt/pyfs/.; then
      _container_log "staged install $staged is not readable by $CONTAINER_USER (chmod 0755 it)"
      return 1
    fi
    container_install_staged || return 1
  fi
  if ! out=$(container_run loginctl enable-linger "$CONTAINER_USER" 2>&1); then
    _container_log "loginctl enable-linger failed: $out"
    return 1
  fi
  container_wait_user_manager || return 1
  CONTAINER_BOOT_SECONDS=$(_container_since "$start")
  _container_log "$CONTAINER_NAME ready in ${CONTAINER_BOOT_SECONDS}s (leader PID $CONTAINER_LEADER)"
}

# container_install_staged: make the staged install at /opt/pyfs visible to
# the user manager and the session bus (see the top of this file). Called by
# container_boot before the user manager starts; when called later, it reloads
# the user manager itself.
container_install_staged() {
  container_run sh -euc '
    if [ -d /opt/pyfs/lib/systemd/user ]; then
      mkdir -p /etc/systemd/user
      cp -R /opt/pyfs/lib/systemd/user/. /etc/systemd/user/
    fi
    if [ -d /opt/pyfs/share/dbus-1/services ]; then
      mkdir -p /etc/dbus-1/session.d
      cat >/etc/dbus-1/session.d/pyfs-staged.conf <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><servicedir>/opt/pyfs/share/dbus-1/services</servicedir></busconfig>
EOF
    fi' || { _container_log "installing the staged units failed"; return 1; }
  if container_run systemctl is-active --quiet "user@$CONTAINER_UID.service"; then
    container_user systemctl --user daemon-reload
  fi
}

# container_run CMD...: run CMD as root inside, with a clean environment.
# Stdin, stdout, stderr and the exit status are CMD's.
container_run() {
  if [[ -z ${CONTAINER_LEADER-} ]]; then
    _container_log "container_run: no container booted"
    return 1
  fi
  nsenter -t "$CONTAINER_LEADER" -a \
    env -i -C / HOME=/root PATH="$CONTAINER_PATH" LANG=C.UTF-8 SYSTEMD_PAGER=cat "$@" \
    {CONTAINER_GUARD_FD}>&-
}

# container_user CMD...: run CMD inside as the test user, in its home, with
# XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS set for the --user tools.
container_user() {
  if [[ -z ${CONTAINER_LEADER-} ]]; then
    _container_log "container_user: no container booted"
    return 1
  fi
  nsenter -t "$CONTAINER_LEADER" -a runuser -u "$CONTAINER_USER" -- \
    env -i -C "$CONTAINER_HOME" HOME="$CONTAINER_HOME" USER="$CONTAINER_USER" \
    LOGNAME="$CONTAINER_USER" SHELL=/bin/bash PATH="$CONTAINER_PATH" LANG=C.UTF-8 \
    SYSTEMD_PAGER=cat XDG_RUNTIME_DIR="/run/user/$CONTAINER_UID" \
    DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$CONTAINER_UID/bus" "$@" \
    {CONTAINER_GUARD_FD}>&-
}

# container_wait_user_manager [TIMEOUT]: wait until user@UID.service is
# active, the user bus socket exists and the user manager finished starting.
container_wait_user_manager() {
  local timeout=${1:-60} deadline state
  local -
  set +e
  deadline=$(_container_deadline "$timeout")
  while :; do
    if container_run systemctl is-active --quiet "user@$CONTAINER_UID.service" &&
      container_run test -S "/run/user/$CONTAINER_UID/bus"; then
      state=$(container_user systemctl --user is-system-running 2>&1)
      [[ $state == @(running|degraded) ]] && return 0
    fi
    if ! _container_before "$deadline"; then
      _container_log "the user manager of $CONTAINER_USER did not start within ${timeout}s" \
        "(user state: ${state:-none})"
      container_run systemctl status --no-pager "user@$CONTAINER_UID.service" >&2
      container_run loginctl user-status "$CONTAINER_USER" --no-pager >&2
      return 1
    fi
    sleep 0.1
  done
}

# container_diagnose: what a failing test wants to see.
container_diagnose() {
  if [[ -z ${CONTAINER_LEADER-} ]] || ! _container_pid_running "$CONTAINER_LEADER"; then
    _container_console_tail
    return 0
  fi
  {
    echo "--- failed units ---"
    container_run systemctl --failed --no-legend
    if container_run systemctl is-active --quiet "user@$CONTAINER_UID.service"; then
      container_user systemctl --user --failed --no-legend
    fi
    echo "--- container journal (last 60 entries) ---"
    container_run journalctl --no-pager -n 60
    echo "--- end of container journal ---"
  } >&2 2>&1
}

# container_teardown: stop the container, wait for nspawn to exit, remove the
# temporary files. The EXIT trap; also safe to call directly and twice.
# Returns (and so, as the EXIT trap, keeps) the exit status it was called with.
container_teardown() {
  local status=$? start deadline
  local -
  set +e
  start=$(_container_now)
  trap - HUP INT TERM EXIT
  if [[ -z ${CONTAINER_NSPAWN_PID-} ]]; then
    return "$status"
  fi
  if (( status != 0 )) && [[ -z ${_container_signalled-} ]]; then
    container_diagnose
  fi

  if _container_pid_running "$CONTAINER_NSPAWN_PID"; then
    # A clean halt only of a booted system: before systemd has set up its
    # signal handlers, nspawn's SIGRTMIN+3 to it is ignored (PID 1).
    if [[ -z ${_container_signalled-} && -n ${_container_booted-} ]]; then
      kill -TERM "$CONTAINER_NSPAWN_PID" 2>/dev/null  # nspawn halts the container
      deadline=$(_container_deadline "$CONTAINER_STOP_TIMEOUT")
      while _container_pid_running "$CONTAINER_NSPAWN_PID" && _container_before "$deadline"; do
        sleep 0.05
      done
    fi
    if _container_pid_running "$CONTAINER_NSPAWN_PID"; then
      [[ -z ${_container_signalled-} && -n ${_container_booted-} ]] &&
        _container_log "$CONTAINER_NAME did not halt within ${CONTAINER_STOP_TIMEOUT}s, killing it"
      local leader=${CONTAINER_LEADER:-$(_container_find_leader "$CONTAINER_NSPAWN_PID" any)}
      [[ -n $leader ]] && kill -KILL "$leader" 2>/dev/null
      deadline=$(_container_deadline 10)
      while _container_pid_running "$CONTAINER_NSPAWN_PID" && _container_before "$deadline"; do
        sleep 0.05
      done
      kill -KILL "$CONTAINER_NSPAWN_PID" 2>/dev/null
    fi
  fi
  wait "$CONTAINER_NSPAWN_PID" 2>/dev/null

  if [[ -n ${CONTAINER_GUARD_FD-} ]]; then
    echo disarm >&"$CONTAINER_GUARD_FD"
    exec {CONTAINER_GUARD_FD}>&-
    wait "$CONTAINER_GUARD_PID" 2>/dev/null
  fi
  rm -rf -- "$CONTAINER_WORKDIR"
  # nspawn cannot remove this itself when /run is not a tmpfs ("Attempted to
  # remove disk file system ... we can't allow that").
  rmdir "/run/systemd/nspawn/propagate/$CONTAINER_NAME" 2>/dev/null
  _container_log "$CONTAINER_NAME torn down in $(_container_since "$start")s"
  unset CONTAINER_NSPAWN_PID CONTAINER_LEADER CONTAINER_GUARD_FD CONTAINER_GUARD_PID \
    _container_console_shown _container_signalled _container_booted
  return "$status"
}
