#!/usr/bin/env bash
# lib/ is exactly the module list: lib/NAME exists if and only if NAME is
# in run/modules, for ls, stat, cd and test alike, right after the change,
# whatever the kernel learnt before. A link to a module that is not listed
# leads to run/sys.modules/, which resolves but is never listed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

pyfs_start -m json -m os
cd "$MNT" || exit 1
gone() { ! test -e "$1" && ! stat "$1" >/dev/null 2>&1; }

# json imports re: it is in sys.modules, not in the list.
check "a module imported but not listed is not in lib/" gone lib/re
check "nor is one never listed that os uses" gone lib/posixpath
expect_errno "cd into it fails" "No such file" cd lib/re
expect_eq "ls lib shows the list" "json os" "$(ls lib | xargs)"

check "appending lists it" bash -c 'echo re >> run/modules'
check "test -e sees it at once" test -e lib/re
check "stat too" stat lib/re
check "and cd" bash -c 'cd lib/re'
# The kernel now knows lib/re: the clear must still show at once.
check ": > run/modules clears" bash -c ': > run/modules'
check "test -e lib/re is false at once" gone lib/re
expect_errno "cd lib/re fails at once" "No such file" cd lib/re
expect_errno "ls lib/re fails" "No such file" ls lib/re
expect_eq "ls lib is empty" "" "$(ls lib)"
expect_eq "and json is gone too" "no" "$(test -e lib/json && echo yes || echo no)"

flips=0
for _ in $(seq 20); do
	echo re >> run/modules && test -d lib/re && stat lib/re/compile >/dev/null &&
		: > run/modules && gone lib/re && gone lib/re/compile && flips=$((flips + 1))
done
expect_eq "20 flips in a row, each seen by the very next command" 20 "$flips"

check "a working directory in a module removed meanwhile lists nothing" bash -c '
	echo re >> run/modules && cd lib/re && : > ../../run/modules && ! ls . >/dev/null 2>&1'

# Links: inside lib/ when the module is listed, to run/sys.modules/ when not.
check "os again" bash -c 'echo os >> run/modules'
expect_eq "os.path leads outside lib/ while posixpath is not listed" \
	"../../run/sys.modules/posixpath" "$(readlink lib/os/path)"
check "and resolves" test -d lib/os/path/
expect_eq "lib/os/path/join works" "a/b" "$(lib/os/path/join a b)"
check "posixpath listed" bash -c 'echo posixpath >> run/modules'
expect_eq "then the link leads to lib/posixpath, at once" "../posixpath" "$(readlink lib/os/path)"
check "delisted again" bash -c 'echo os > run/modules'
expect_eq "and back outside, at once" "../../run/sys.modules/posixpath" "$(readlink lib/os/path)"
check "lib/posixpath is gone" gone lib/posixpath
check "its files too" gone lib/posixpath/join

expect_eq "run/ lists run/modules and run/reload alone" "modules reload" \
	"$(ls -A run | paste -sd ' ')"
expect_eq "find never sees run/sys.modules" "" "$(find . | grep sys.modules)"
expect_eq "nor ls -R" "" "$(ls -R . | grep sys.modules)"
check "run/sys.modules/NAME resolves any imported module" test -f run/sys.modules/re/__name__
check "but not a module that was never imported" gone run/sys.modules/no_such_module
expect_eq "bin/ works without builtins listed" "1024" "$(bin/pow 2 10)"
expect_eq "bin/pow leads to builtins' place" "../run/sys.modules/builtins/pow" "$(readlink bin/pow)"

pyfs_finish
