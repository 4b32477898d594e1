#!/usr/bin/env bash
# Bash completion (data/pyfsd.bash), driven in a real bash as readline
# drives it: COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT set, the
# completion function bash would pick called, with bash-completion loaded
# first. An executable's options come from the call server, answered from
# the callable's signature; no python3 starts for a TAB.
. "$(dirname "$0")/lib.sh"

BASH_COMPLETION=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}
[ -r "$BASH_COMPLETION" ] || skip_all "bash-completion is not installed"
: "${PYFS_COMPLETION:?PYFS_COMPLETION must name data/pyfsd.bash}"

pyfs_start -m pyfs_calls_greet -m builtins -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
server=$(server_pid)

# completions LINE: what bash offers for the last word of LINE (a line
# ending in a space completes an empty word), one per line, sorted.
completions() {
	PATH=$MNT/bin:$PATH bash --norc --noprofile -c '
		. "$1" && . "$2" || exit 1
		COMP_LINE=$3
		COMP_POINT=${#COMP_LINE}
		read -r -a COMP_WORDS <<<"$COMP_LINE"
		[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		# As bash looks: the full path, then its last part, then the default.
		spec=$(complete -p -- "${COMP_WORDS[0]}" 2>/dev/null ||
			complete -p -- "${COMP_WORDS[0]##*/}" 2>/dev/null || complete -p -D)
		fn=$(sed -n "s/.*-F \([^ ]*\).*/\1/p" <<<"$spec")
		COMPREPLY=()
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$PYFS_COMPLETION" "$1" |
		sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

expect_eq "pyfsd's options" "--venv= --version" "$(completions "$PYFSD --ve")"
expect_eq "pyfsd's options taking a value" "--module=" "$(completions "$PYFSD --mod")"
expect_eq "--venv takes a directory" "$WORK/mnt/" "$(completions "$PYFSD --venv $WORK/mn")/"
expect_eq "an executable's keyword parameter, through its path" "--punct=" \
	"$(completions "$lib/pyfs_calls_greet/greet --p")"
expect_eq "a bool one, as a switch" "--loud --loud=" \
	"$(completions "$lib/pyfs_calls_greet/greet --l")"
expect_eq "and as its negation" "--no-loud" "$(completions "$lib/pyfs_calls_greet/greet --no")"
expect_eq "--help, and no parameter given already" "--help --loud --loud= --name= --no-loud" \
	"$(completions "$lib/pyfs_calls_greet/greet --punct=? -")"
expect_eq "nothing after a positional argument" "" \
	"$(completions "$lib/pyfs_calls_greet/greet you --p")"
expect_eq "nothing after --" "" "$(completions "$lib/pyfs_calls_greet/greet -- --p")"
expect_eq "a builtin on PATH through bin/: its text signature" "--reverse --reverse=" \
	"$(completions "sorted --re")"

# Answered by the call server: a spare of the server ran the completion.
answered_by_server() {
	local before after
	before=$(cat "/proc/$server/task/$server/children")
	completions "$lib/pyfs_calls_greet/greet --p" >/dev/null
	after=$(cat "/proc/$server/task/$server/children")
	[ "$before" != "$after" ]
}
check "the call server answered (one of its spares was used)" answered_by_server

# A server stopped: no candidates, no python3, and the TAB does not hang.
kill -STOP "$server"
start=$SECONDS
expect_eq "a stopped server: nothing offered" "" "$(completions "$lib/pyfs_calls_greet/greet --p")"
# The bound is 1 s; bash and bash-completion starting take the rest.
check "within a bound" test $((SECONDS - start)) -le 3
kill -CONT "$server"

# A command that is no pyfs executable still gets bash-completion's own.
mkdir -p "$WORK/dir/sub"
touch "$WORK/dir/file"
expect_eq "other commands: bash-completion as usual (ls dir/)" "dir/file dir/sub" \
	"$(cd "$WORK" && completions "ls dir/")"

pyfs_finish
