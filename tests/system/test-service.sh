#!/bin/bash
# The predicates polled by eventually() look unreachable to shellcheck.
# shellcheck disable=SC2317
#
# test-service.sh — pyfs@.service as a user would run it: the build is
# installed with --prefix=/opt/pyfs into a staging directory, a throwaway
# systemd container boots with it bound at /opt/pyfs (container.sh), and the
# test user drives the unit with systemctl/busctl/journalctl --user.
#
# Covers (pyfs@.service(5)): READY, STATUS=, the module list through D-Bus and
# run/modules with its journal entries (PYFS_MODULE=, tracebacks), the list
# saved and restored across stop/start, SIGKILL and a stale mount, a
# corrupt state file, an unmount from outside, an escaped-path instance,
# the configuration file, the watchdog (pings, and a restart when the
# interpreter is wedged), and that nothing is left behind.
#
# Environment (from meson): PYFS_SOURCE_ROOT, the tree to build and install.
# Exit: 0 pass, 1 fail, 77 skip (no systemd-nspawn or no /dev/fuse only).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=container.sh
. "$here/container.sh"

container_require || exit $?
: "${PYFS_SOURCE_ROOT:?PYFS_SOURCE_ROOT must name the source tree}"

work=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-service.XXXXXX")
passes=$work/passes
record=$work/record
: >"$passes"
finish() {
  local status=$?
  echo "$(wc -l <"$passes") passed, $((status != 0)) failed"
  rm -rf -- "$work"
  exit "$status"
}
trap finish EXIT


# --- staging: configure, build and install with the prefix of the container --

umask 022
start=$(_container_now)
if ! meson setup --prefix=/opt/pyfs -Dtests=false "$work/build" "$PYFS_SOURCE_ROOT" \
  >"$work/build.log" 2>&1 ||
  ! meson install -C "$work/build" --destdir "$work/stage" --quiet >>"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  fail "staging the install"
fi
stage=$work/stage/opt/pyfs
[[ -f $stage/lib/systemd/user/pyfs@.service && -x $stage/bin/pyfsd ]] ||
  fail "the staged install lacks pyfs@.service or pyfsd: $(cd "$stage" && find . | sort)"
ok "built and staged with --prefix=/opt/pyfs in $(_container_since "$start")s"

# --- before -------------------------------------------------------------------

# --- in the container (a subshell: its EXIT trap is the teardown) --------------

(
  trap 'echo "not ok - line $LINENO: $BASH_COMMAND" >&2' ERR
  container_boot "$stage"
  echo "$CONTAINER_NAME $CONTAINER_WORKDIR $CONTAINER_NSPAWN_PID $CONTAINER_LEADER" >"$record"
  ok "booted $CONTAINER_NAME in ${CONTAINER_BOOT_SECONDS}s"

  u() { container_user "$@"; }
  # What a failure inside wants to show: the user manager's and pyfsd's view.
  fail() {
    echo "not ok - $*" >&2
    {
      echo "--- journalctl --user (last 80 entries) ---"
      u journalctl --user -n 80 --no-pager -o short-monotonic
      echo "--- end of the user journal ---"
    } >&2
    exit 1
  }
  home=$CONTAINER_HOME
  unit=pyfs@mountpoint.service
  mnt=$home/mountpoint
  state=$home/.local/state/pyfs

  prop() { u systemctl --user show -P "$2" "$1"; }
  active() { [[ $(u systemctl --user is-active "$1") == active ]]; }
  modules() { u cat "$1/run/modules" | xargs; }
  mounted() { container_run findmnt -n -o FSTYPE --mountpoint "$1" | grep -qx fuse.pyfs; }
  # The saved list, without its comment line.
  saved() { u grep -v '^#' "$state/$1.modules" | xargs; }
  cursor() { u journalctl --user -u "$1" -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p'; }
  # journal_has UNIT CURSOR COND...: an entry of UNIT after CURSOR ("" for
  # all) meets every COND: FIELD=VALUE (equal) or FIELD~TEXT (contains).
  journal_has() {
    local unit=$1 after=$2
    shift 2
    u journalctl --user -u "$unit" -o json --no-pager ${after:+--after-cursor="$after"} |
      python3 -c '
import json, sys

def text(value):  # journalctl -o json gives non-printable fields as byte arrays
    return bytes(value).decode("utf-8", "replace") if isinstance(value, list) else str(value)

def meets(entry, cond):
    key, _, want = cond.partition("=")
    if "~" in key:
        key, _, want = cond.partition("~")
        return key in entry and want in text(entry[key])
    return key in entry and text(entry[key]) == want

entries = [json.loads(line) for line in sys.stdin]
sys.exit(0 if any(all(meets(e, c) for c in sys.argv[1:]) for e in entries) else 1)' "$@"
  }
  status_is() { [[ $(prop "$1" StatusText) == "$2" ]]; }
  # pyfsd, its call server and fusermount3 processes of the test user.
  leftovers() { container_run pgrep -a -u "$CONTAINER_USER" '^(pyfsd|fusermount3)' || true; }

  # --- the unit, as installed ---

  fragment=$(prop "$unit" FragmentPath)
  [[ $(container_run realpath "$fragment") == /etc/systemd/user/pyfs@.service ]] ||
    fail "the staged unit is not the one loaded ($fragment)"

  # A directory for sys.path (pyfsd.conf path=), with a module that holds
  # the GIL: sum() over a range runs in C, with no bytecode boundary at
  # which the interpreter would let go of it.
  u mkdir -p "$home/.config/pyfs" "$home/pymods"
  u sh -c "printf '%s\n' '[pyfsd]' 'path=~/pymods' > $home/.config/pyfs/pyfsd.conf"
  u sh -c "echo 'VALUE = 42' > $home/pymods/pyfs_extra.py"
  u sh -c "echo 'sum(range(10 ** 15))' > $home/pymods/pyfs_wedge.py"

  # --- start: READY, the mount, STATUS ---

  ! u test -e "$mnt" || fail "$mnt exists before the first start"
  u systemctl --user start "$unit" || fail "systemctl --user start $unit"
  active "$unit" || fail "$unit is not active"
  mounted "$mnt" || fail "nothing mounted on $mnt"
  [[ $(modules "$mnt") == "json os sys" ]] || fail "the default list is '$(modules "$mnt")'"
  ok "start: active once mounted, ~/mountpoint created, the default list json os sys"
  # Watchdog properties are the running service's: read them now.
  for p in Type=notify NotifyAccess=main Restart=on-failure WatchdogUSec=30s \
    TimeoutStopUSec=20s KillMode=mixed UMask=0077 KeyringMode=private NoNewPrivileges=no \
    ExecStart="{ path=/opt/pyfs/bin/pyfsd ; argv[]=/opt/pyfs/bin/pyfsd --foreground $mnt ;"; do
    value=$(prop "$unit" "${p%%=*}")
    [[ $value == "${p#*=}"* ]] || fail "${p%%=*} is '$value', not '${p#*=}'"
  done
  ok "pyfs@.service: Type=notify, Restart=on-failure, WatchdogSec=30s, KillMode=mixed, hardening"
  status_is "$unit" "Serving 3 modules on $mnt: json os sys" ||
    fail "StatusText is '$(prop "$unit" StatusText)'"
  ok "STATUS=$(prop "$unit" StatusText)"

  # --- changes through D-Bus and run/modules, in the journal ---

  c=$(cursor "$unit")
  u busctl --user call org.pyfs /org/pyfs org.pyfs.Manager AddModule s re ||
    fail "busctl AddModule re"
  [[ $(modules "$mnt") == "json os sys re" ]] || fail "after AddModule: '$(modules "$mnt")'"
  # json is listed already: take it out, so that appending it is a change.
  u busctl --user call org.pyfs /org/pyfs org.pyfs.Manager RemoveModule s json ||
    fail "busctl RemoveModule json"
  u sh -c "echo json >> $mnt/run/modules" || fail "echo json >> run/modules"
  [[ $(modules "$mnt") == "os sys re json" ]] || fail "after the append: '$(modules "$mnt")'"
  ok "busctl AddModule re, RemoveModule json, echo json >> run/modules"

  eventually 10 journal_has "$unit" "$c" PYFS_MODULE=re "MESSAGE=Module re added" PRIORITY=6 \
    PYFS_INSTANCE="$mnt" GLIB_DOMAIN=pyfsd CODE_FILE~pyfs-registry.c CODE_LINE~ ||
    fail "no journal entry with PYFS_MODULE=re for the D-Bus change"
  eventually 10 journal_has "$unit" "$c" PYFS_MODULE=json "MESSAGE=Module json removed" ||
    fail "no journal entry with PYFS_MODULE=json for the removal"
  eventually 10 journal_has "$unit" "$c" PYFS_MODULE=json "MESSAGE=Module json added" \
    PRIORITY=6 || fail "no journal entry with PYFS_MODULE=json for the append"
  ok "journalctl --user -u $unit: PYFS_MODULE=re, PYFS_MODULE=json (info, PYFS_INSTANCE, CODE_FILE)"
  eventually 10 status_is "$unit" "Serving 4 modules on $mnt: os sys re json" ||
    fail "StatusText did not follow: '$(prop "$unit" StatusText)'"
  ok "STATUS= follows the changes: $(prop "$unit" StatusText)"

  ! u sh -c "echo no_such_module >> $mnt/run/modules" 2>/dev/null ||
    fail "appending a module that does not import succeeded"
  eventually 10 journal_has "$unit" "$c" PYFS_MODULE=no_such_module PRIORITY=4 \
    "MESSAGE~Traceback (most recent call last)" \
    "MESSAGE~ModuleNotFoundError: No module named 'no_such_module'" ||
    fail "no warning with the traceback for the failed import"
  ok "an import failure: a warning with PYFS_MODULE= and the traceback"

  u sh -c "echo pyfs_extra >> $mnt/run/modules" || fail "a module from pyfsd.conf's path="
  [[ $(u cat "$mnt/lib/pyfs_extra/VALUE") == 42 ]] || fail "pyfs_extra.VALUE is not 42"
  list="os sys re json pyfs_extra"
  [[ $(saved mountpoint) == "$list" ]] || fail "the saved list is '$(saved mountpoint)'"
  [[ $(u stat -c %a "$state/mountpoint.modules") == 600 ]] || fail "the state file is not 0600"
  [[ $(u ls -A "$state") == mountpoint.modules ]] || fail "other files in $state: $(u ls -A "$state")"
  ok "pyfsd.conf path= is on sys.path; the list is saved in ~/.local/state/pyfs/mountpoint.modules"

  # --- stop, start: the list is restored ---

  u systemctl --user stop "$unit" || fail "systemctl --user stop"
  ! mounted "$mnt" || fail "$mnt still mounted after stop"
  ! container_run grep -q " $mnt " /proc/mounts || fail "$mnt still in /proc/mounts"
  [[ $(prop "$unit" Result) == success ]] || fail "stop: Result=$(prop "$unit" Result)"
  [[ -z $(leftovers) ]] || fail "processes left: $(leftovers)"
  eventually 10 journal_has "$unit" "$c" MESSAGE=Stopped || fail "no 'Stopped' in the journal"
  ok "stop: unmounted, nothing left in /proc/mounts, no process left, Result=success"

  u systemctl --user start "$unit" || fail "start after stop"
  [[ $(modules "$mnt") == "$list" ]] || fail "restored '$(modules "$mnt")', not '$list'"
  ok "start again: the list is restored ($list)"

  # --- a change that cannot be saved is refused, on both paths ---

  u chmod 0555 "$state"
  out=$(u busctl --user call org.pyfs /org/pyfs org.pyfs.Manager AddModule s csv 2>&1) &&
    fail "AddModule succeeded with a read-only state directory"
  [[ $out == *"Cannot save the module list, so it stays as it was"*"Permission denied"* ]] ||
    fail "AddModule: '$out'"
  # bash: dash's echo says "I/O error" whatever the errno.
  out=$(u bash -c "echo csv >> $mnt/run/modules" 2>&1) && fail "the append succeeded"
  [[ $out == *"Permission denied"* ]] || fail "append: '$out'"
  [[ $(modules "$mnt") == "$list" && $(saved mountpoint) == "$list" ]] ||
    fail "the list changed: '$(modules "$mnt")', saved '$(saved mountpoint)'"
  u chmod 0700 "$state"
  ok "state directory not writable: D-Bus gets an error, the writer EACCES, the list stays"

  # --- SIGKILL: Restart=on-failure, same list ---

  pid=$(prop "$unit" MainPID)
  restarts=$(prop "$unit" NRestarts)
  container_run kill -KILL "$pid"
  restarted() {
    [[ $(prop "$unit" NRestarts) -gt $restarts && $(prop "$unit" MainPID) != "$pid" ]] &&
      active "$unit"
  }
  start=$(_container_now)
  eventually 30 restarted || fail "no restart after kill -9 (NRestarts $(prop "$unit" NRestarts))"
  [[ $(modules "$mnt") == "$list" ]] || fail "after the restart: '$(modules "$mnt")'"
  [[ $(container_run grep -c " $mnt " /proc/mounts) == 1 ]] || fail "more than one mount on $mnt"
  ok "kill -9 $pid: restarted in $(_container_since "$start")s as $(prop "$unit" MainPID), same list, mount answers"

  # --- a stale mount on start: left by a pyfsd run by hand that crashed ---

  u systemctl --user stop "$unit"
  # Its own state directory: this run must not touch the service's list.
  u env XDG_STATE_HOME="$home/by-hand" /opt/pyfs/bin/pyfsd "$mnt" || fail "pyfsd by hand"
  mounted "$mnt" || fail "pyfsd by hand did not mount"
  u stat "$mnt" >/dev/null # the root's attributes are now in the kernel's cache
  pid=$(container_run pgrep -u "$CONTAINER_USER" -x -f "/opt/pyfs/bin/pyfsd $mnt")
  mapfile -t children < <(container_run pgrep -P "$pid")
  mapfile -t helpers < <(container_run pgrep -P "$pid" -x fusermount3)
  (( ${#helpers[@]} > 0 )) || fail "no fusermount3 (auto_unmount) under pyfsd $pid: ${children[*]}"
  # The fusermount3 that would unmount when pyfsd dies is stopped first.
  container_run kill -STOP "${helpers[@]}"
  # (A short-lived child may be gone already.)
  container_run kill -KILL "$pid" "${children[@]}" 2>/dev/null || true
  container_run kill -KILL "${helpers[@]}" 2>/dev/null || true
  stale() { [[ $(u stat -f "$mnt" 2>&1) == *"Transport endpoint is not connected"* ]]; }
  eventually 10 stale || fail "no stale mount: $(u stat -f "$mnt" 2>&1)"
  c=$(cursor "$unit")
  u systemctl --user start "$unit" || fail "start on a stale mount"
  journal_has "$unit" "$c" "MESSAGE=Unmounting a stale mount on $mnt left by an earlier instance" ||
    fail "pyfsd did not say it unmounted the stale mount"
  [[ $(modules "$mnt") == "$list" ]] || fail "after the stale mount: '$(modules "$mnt")'"
  [[ $(container_run grep -c " $mnt " /proc/mounts) == 1 ]] || fail "more than one mount on $mnt"
  ok "a stale mount (pyfsd by hand killed with its auto_unmount helper) is cleaned up on start"

  # --- a corrupt state file ---

  u systemctl --user stop "$unit"
  u sh -c "printf 'json\n\377\376\n' > $state/mountpoint.modules"
  c=$(cursor "$unit")
  u systemctl --user start "$unit" || fail "start with a corrupt state file"
  [[ $(modules "$mnt") == "json os sys" ]] || fail "with a corrupt state: '$(modules "$mnt")'"
  eventually 10 journal_has "$unit" "$c" PRIORITY=4 "MESSAGE~Cannot restore the saved module list" \
    "MESSAGE~Not valid UTF-8" || fail "no warning about the corrupt state file"
  ok "a corrupt state file: a warning, the default list, the service active"

  # --- unmounted from outside: a clean exit, no restart ---

  c=$(cursor "$unit")
  restarts=$(prop "$unit" NRestarts)
  u fusermount3 -u "$mnt" || fail "fusermount3 -u"
  inactive() { [[ $(u systemctl --user is-active "$unit") == inactive ]]; }
  eventually 20 inactive || fail "still $(u systemctl --user is-active "$unit") after fusermount3 -u"
  [[ $(prop "$unit" Result) == success && $(prop "$unit" NRestarts) == "$restarts" ]] ||
    fail "Result=$(prop "$unit" Result) NRestarts=$(prop "$unit" NRestarts)"
  eventually 10 journal_has "$unit" "$c" "MESSAGE=$mnt was unmounted from outside; exiting" ||
    fail "no log line for the unmount from outside"
  ok "fusermount3 -u: logged, exit 0, inactive (not restarted)"

  # --- an escaped path instance, its directory created ---

  instance=$(u systemd-escape --path fuse-test/mountpoint)
  [[ $instance == 'fuse\x2dtest-mountpoint' ]] || fail "systemd-escape gave '$instance'"
  unit2="pyfs@$instance.service"
  mnt2=$home/fuse-test/mountpoint
  ! u test -e "$home/fuse-test" || fail "$home/fuse-test exists already"
  u systemctl --user start "$unit2" || fail "systemctl --user start $unit2"
  { active "$unit2" && mounted "$mnt2"; } || fail "$unit2 does not serve $mnt2"
  [[ $(u stat -c %a "$home/fuse-test") == 700 ]] || fail "$home/fuse-test is not 0700 (UMask)"
  u busctl --user call org.pyfs.fuse_2dtest_2fmountpoint /org/pyfs org.pyfs.Manager \
    AddModule s csv || fail "busctl AddModule csv to org.pyfs.fuse_2dtest_2fmountpoint"
  [[ $(saved fuse_2dtest_2fmountpoint) == "json os sys csv" ]] ||
    fail "the saved list of $unit2: '$(saved fuse_2dtest_2fmountpoint)'"
  status_is "$unit2" "Serving 4 modules on $mnt2: json os sys csv" ||
    fail "StatusText of $unit2: '$(prop "$unit2" StatusText)'"
  u systemctl --user stop "$unit2"
  ! mounted "$mnt2" || fail "$mnt2 still mounted"
  ok "$unit2 mounts ~/fuse-test/mountpoint (created, 0700), saves fuse_2dtest_2fmountpoint.modules"

  # --- the watchdog: pings, and a restart when the interpreter is stuck ---

  unit3=pyfs@wd.service
  mnt3=$home/wd
  container_run sh -ec "mkdir -p /etc/systemd/user/$unit3.d
    printf '%s\n' '[Service]' 'WatchdogSec=2s' 'LimitCORE=0' 'ExecStart=' \
      'ExecStart=/opt/pyfs/bin/pyfsd --foreground --debug %h/%I' \
      >/etc/systemd/user/$unit3.d/test.conf"
  u systemctl --user daemon-reload
  u systemctl --user start "$unit3" || fail "systemctl --user start $unit3"
  [[ $(prop "$unit3" WatchdogUSec) == 2s ]] || fail "WatchdogUSec=$(prop "$unit3" WatchdogUSec)"
  eventually 10 journal_has "$unit3" "" PRIORITY=7 || fail "--debug logged no debug entry"
  # Pings (every second) move WatchdogTimestamp; five span over two intervals.
  moved() { pinged=$(prop "$unit3" WatchdogTimestampMonotonic); [[ $pinged != "$last" ]]; }
  pinged=$(prop "$unit3" WatchdogTimestampMonotonic)
  for _ in 1 2 3 4 5; do
    last=$pinged
    eventually 10 moved || fail "no watchdog ping within 10 s"
  done
  { [[ $(prop "$unit3" NRestarts) == 0 ]] && active "$unit3"; } ||
    fail "$unit3 restarted while healthy"
  ok "WatchdogSec=2s: 5 pings (2.5 intervals), no restart; --debug logs at PRIORITY=7"

  c=$(cursor "$unit3")
  pid=$(prop "$unit3" MainPID)
  # The write blocks in the import until the watchdog kills pyfsd; the
  # timeout runs inside the container (see container.sh).
  u timeout 60 sh -c "echo pyfs_wedge >> $mnt3/run/modules" 2>/dev/null &
  writer=$!
  wd_restarted() {
    [[ $(prop "$unit3" NRestarts) == 1 && $(prop "$unit3" MainPID) != "$pid" ]] && active "$unit3"
  }
  eventually 30 wd_restarted || fail "no restart after the interpreter got stuck"
  wait "$writer" && fail "the write of the wedged module succeeded"
  eventually 10 journal_has "$unit3" "$c" PRIORITY=4 "MESSAGE~health check" ||
    fail "pyfsd did not warn about the failing health check"
  eventually 10 journal_has "$unit3" "$c" "MESSAGE~Watchdog timeout" ||
    fail "no 'Watchdog timeout' from the user manager"
  [[ $(modules "$mnt3") == "json os sys" ]] || fail "after the watchdog restart: '$(modules "$mnt3")'"
  ok "a module holding the GIL: no more pings, Watchdog timeout, restarted with the saved list"
  u systemctl --user stop "$unit3"

  # --- nothing left inside ---

  ! container_run grep -q fuse.pyfs /proc/mounts ||
    fail "pyfs mounts left: $(container_run grep fuse.pyfs /proc/mounts)"
  [[ -z $(leftovers) ]] || fail "processes left: $(leftovers)"
  ok "every instance stopped: no pyfs mount, no pyfsd or fusermount3 left"

  container_teardown
)

read -r name workdir nspawn leader <"$record"

# --- after: nothing left behind on the host --------------------------------------
# (Other test runs may boot containers or mount meanwhile: look only at ours.)

for p in "$nspawn" "$leader"; do
  ! _container_pid_running "$p" || fail "process $p ($(cat "/proc/$p/comm")) is left"
done
! grep -e "$workdir" -e "$work" /proc/mounts || fail "mounts of the test are left"
[[ ! -e $workdir && ! -e /run/systemd/nspawn/propagate/$name ]] || fail "container files left"
ok "teardown left no process, mount or file behind"
