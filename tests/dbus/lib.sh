# shellcheck shell=bash
#
# lib.sh — what the dbus suite's tests share: a private session bus, pyfsd
# instances on temporary mountpoints, polling with a deadline, TAP-like
# output, the check that pyfsd logged no unexpected warning, and a cleanup
# trap that ends every process it started and releases every mount.
#
# Tests source it, then call require, start_bus, start_pyfsd... and end with
# finish. Environment: PYFSD, the pyfsd binary to test (meson sets it).

set -euo pipefail
shopt -s lastpipe

: "${PYFSD:?PYFSD must name the pyfsd binary to test}"

IFACE=org.pyfs.Manager
OBJ=/org/pyfs

passed=0
ok() {
  passed=$((passed + 1))
  echo "ok $passed - $*"
}
fail() {
  echo "not ok - $*" >&2
  dump_logs >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}

# Tools and /dev/fuse; skipping only where the machine lacks them.
# shellcheck disable=SC2120 # optional arguments
require() {
  local tool
  for tool in dbus-daemon busctl gdbus fusermount3 mountpoint "$@"; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
  done
  [[ -r /dev/fuse && -w /dev/fuse ]] || skip "/dev/fuse is not usable"
  [[ -x $PYFSD ]] || fail "PYFSD=$PYFSD is not executable"
}

now_ms() {
  echo $((${EPOCHREALTIME/./} / 1000))
}

# Runs CMD... until it succeeds, for at most $1 seconds. Polls; never a
# fixed sleep standing in for synchronisation.
eventually() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

# --- The sandbox ---------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-dbus.XXXXXX")
# pyfsd saves its state, Python its user site, under HOME: keep them here.
export HOME=$TMP/home
export XDG_STATE_HOME=$HOME/.local/state XDG_CONFIG_HOME=$HOME/.config
export XDG_CACHE_HOME=$HOME/.cache XDG_DATA_HOME=$HOME/.local/share
# An empty runtime dir: no $XDG_RUNTIME_DIR/bus to fall back on by accident.
export XDG_RUNTIME_DIR=$TMP/run
unset DBUS_SESSION_BUS_ADDRESS
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"

pids=()     # processes to end, the daemons last
mounts=()   # mountpoints to release
binds=()    # bind mounts a test made (a read-only state directory), to undo
logs=()     # pyfsd logs to check and to show on failure

cleanup() {
  local rc=$? pid mnt i
  trap - EXIT
  # In reverse order: monitors, then the daemons (which leave the bus
  # cleanly), the bus last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    gone "$pid" && continue
    kill -TERM "$pid" 2>/dev/null || true
    eventually 10 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  for mnt in "${mounts[@]}"; do
    unmounted "$mnt" || fusermount3 -u -z "$mnt" 2>/dev/null || true
  done
  for mnt in "${binds[@]}"; do
    umount "$mnt" 2>/dev/null || true
  done
  # PYFS_TEST_KEEP=1 keeps the logs for a post-mortem.
  if [[ ${PYFS_TEST_KEEP:-} == 1 ]]; then
    echo "kept $TMP" >&2
  else
    rm -rf -- "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
# meson's timeout sends SIGTERM: clean up then too.
trap 'exit 143' TERM INT HUP

# Whether process $1 has exited (a child not yet reaped is a zombie).
gone() {
  local state
  read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 0
  [[ $state == Z ]]
}

dump_logs() {
  local file
  for file in "${logs[@]}"; do
    echo "--- $file"
    tail -n 40 "$file" 2>/dev/null || true
  done
}

# --- The bus -------------------------------------------------------------

# Starts a private session bus (extra arguments go to dbus-daemon) and
# exports its address.
# shellcheck disable=SC2120 # optional arguments
start_bus() {
  local addr=$TMP/bus.$RANDOM.addr
  dbus-daemon --session --nofork --nopidfile --print-address=3 "$@" \
    3>"$addr" 2>>"$TMP/bus.err" &
  bus_pid=$!
  pids+=("$bus_pid")
  eventually 10 test -s "$addr" || fail "dbus-daemon did not start"
  DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$addr")
  export DBUS_SESSION_BUS_ADDRESS
}

# The bus-name element pyfsd derives from an absolute mountpoint outside
# HOME (see pyfs_label_for_mountpoint()): each byte outside [A-Za-z0-9], and a
# leading digit, as "_" and two hex digits.
abs_label() {
  local LC_ALL=C s=$1 out='' c hex i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    if [[ $c == [A-Za-z] || ($c == [0-9] && $i -gt 0) ]]; then
      out+=$c
    else
      printf -v hex '%02x' "'$c"
      out+=_$hex
    fi
  done
  echo "$out"
}

# busctl's "as 2 "a" "b"" (ListModules, the Modules property) as "a b".
strip_as() {
  local type rest
  read -r type _ rest
  [[ $type == as ]] || return 1
  echo "${rest//\"/}"
}

# DEST: the list as ListModules returns it, "a b c".
list_modules() {
  busctl --user call "$1" "$OBJ" "$IFACE" ListModules | strip_as
}

# DEST: the Modules property, "a b c".
modules_prop() {
  busctl --user get-property "$1" "$OBJ" "$IFACE" Modules | strip_as
}

# MOUNT: run/modules, "a b c".
modules_file() {
  paste -sd ' ' "$1/run/modules"
}

# MOUNT: the sorted entries of lib/, "a b c".
lib_entries() {
  # shellcheck disable=SC2012 # ls is what is under test
  LC_ALL=C ls "$1/lib" | paste -sd ' '
}

# "c a b" -> "a b c"
sorted() {
  tr ' ' '\n' <<<"$1" | LC_ALL=C sort | paste -sd ' '
}

# Whether nothing is mounted on $1 (a stale mount counts as mounted).
unmounted() {
  ! grep -qF " $1 " /proc/self/mountinfo
}

# The pid of the process owning bus name $1.
name_pid() {
  local type pid
  busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s "$1" 2>/dev/null | read -r type pid
  echo "$pid"
}

# The unique name owning bus name $1.
unique_name() {
  local type name
  busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetNameOwner s "$1" 2>/dev/null | read -r type name
  echo "${name//\"/}"
}

# Whether unique name $2 owns or waits in the queue for bus name $1.
in_queue() {
  busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    ListQueuedOwners s "$1" | grep -F "\"$2\"" >/dev/null
}

# Whether bus name $1 belongs to process $2.
owned_by() {
  [[ $(name_pid "$1") == "$2" ]]
}

# Calls METHOD on DEST with gdbus-style ARGS and expects the D-Bus error
# ERROR: expect_error ERROR DEST METHOD ARGS... Sets $error_text.
expect_error() {
  local name=$1 dest=$2 method=$3 what
  shift 3
  what="$method $*"
  ((${#what} < 100)) || what="${what:0:100}..."
  if error_text=$(gdbus call --session -d "$dest" -o "$OBJ" -m "$IFACE.$method" "$@" 2>&1); then
    fail "$what succeeded; expected $name"
  fi
  [[ $error_text == *"GDBus.Error:$name:"* ]] ||
    fail "$what: expected $name, got: ${error_text:0:300}"
}

# NAME COUNT: a GVariant text array of COUNT times 'NAME', for gdbus call.
gvariant_strv() {
  local out="['$1'" i
  for ((i = 1; i < $2; i++)); do
    out+=", '$1'"
  done
  echo "$out]"
}

# Starts a monitor of PropertiesChanged on /org/pyfs writing one JSON line
# per signal to $1, and waits until the bus has made it a monitor.
start_monitor() {
  local out=$1
  busctl --user monitor --json=short \
    --match "type='signal',path='$OBJ',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'" \
    >"$out" 2>"$out.err" &
  pids+=($!)
  eventually 10 grep -q "Monitoring bus message stream" "$out.err" ||
    fail "busctl monitor did not start: $(cat "$out.err")"
}

# Whether monitor output $1 holds a PropertiesChanged with Modules = $2..
saw_modules() {
  local out=$1 json
  shift
  json=''
  (($# == 0)) || json=$(printf '"%s",' "$@")
  json=${json%,}
  grep -qF "\"Modules\":{\"type\":\"as\",\"data\":[$json]}" "$out"
}

# --- pyfsd ---------------------------------------------------------------

declare -A pid=() log=()

# start_pyfsd ID MOUNT [OPTION...]: runs pyfsd -f -d on MOUNT (created),
# logging to ${log[ID]}, its pid in ${pid[ID]}, and waits until it reports
# that it serves, which it does only once its bus names are settled.
start_pyfsd() {
  local id=$1 mnt=$2
  shift 2
  log[$id]=$TMP/$id.log
  mkdir -p "$mnt"
  # The standard-streams writer sends info and debug to stdout: keep both.
  "$PYFSD" -f -d "$@" "$mnt" >"${log[$id]}" 2>&1 &
  pid[$id]=$!
  pids+=("${pid[$id]}")
  mounts+=("$mnt")
  logs+=("${log[$id]}")
  eventually 30 grep -q "Serving " "${log[$id]}" || fail "pyfsd on $mnt did not start"
  ! gone "${pid[$id]}" || fail "pyfsd on $mnt exited"
}

# stop_pyfsd PID MOUNT: SIGTERM, then it must exit 0 and leave no mount.
stop_pyfsd() {
  local daemon=$1 mnt=$2 status=0
  kill -TERM "$daemon"
  eventually 30 gone "$daemon" || fail "pyfsd on $mnt did not exit on SIGTERM"
  wait "$daemon" || status=$?
  [[ $status == 0 ]] || fail "pyfsd on $mnt exited with status $status"
  unmounted "$mnt" || fail "$mnt is still mounted after pyfsd exited"
}

# check_log LOG [ALLOWED-ERE]: fails on any warning or critical that does
# not match ALLOWED-ERE, and on any sanitizer report (never allowed).
check_log() {
  local file=$1 allowed=${2:-'^$'} bad
  bad=$(grep -E -- '-(WARNING|CRITICAL|ERROR) \*\*' "$file" | grep -vE -- "$allowed" || true)
  [[ -z $bad ]] || fail "unexpected warnings in $file: $bad"
  bad=$(grep -E -A 20 -- '(ERROR|WARNING): [A-Za-z]+Sanitizer|Sanitizer:DEADLYSIGNAL|: runtime error: ' "$file" || true)
  [[ -z $bad ]] || fail "sanitizer report in $file: $bad"
}
