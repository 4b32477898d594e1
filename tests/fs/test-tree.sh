#!/usr/bin/env bash
# The tree (README, "The tree"): kinds, names, stat, finiteness.
. "$(dirname "$0")/lib.sh"

pyfs_start -m json -m os -m sys -m xml.etree.ElementTree -m pyfs_fixture
cd "$MNT" || exit 1

expect_eq "top level" "bin
dot
lib
run" "$(ls)"
expect_eq "a dotted module is listed by its full name" "json
os
pyfs_fixture
sys
xml.etree.ElementTree" "$(ls lib)"

# Kinds.
check "a genuine submodule is a directory" test -d lib/json/decoder -a ! -L lib/json/decoder
check "another module is a symlink" test -L lib/os/path
# Neither posixpath nor codecs is listed: their place is under run/sys.modules/
# (test-list.sh: listed, it is lib/NAME).
expect_eq "os.path points at posixpath's own place" "../../run/sys.modules/posixpath" \
	"$(readlink lib/os/path)"
expect_eq "json.codecs points at codecs" "../../run/sys.modules/codecs" \
	"$(readlink lib/json/codecs)"
expect_eq "a listed module: its place in lib/" "../sys" "$(readlink lib/os/sys)"
check "a symlink target resolves" test -d lib/os/path/
# The owner's alone (--allow-others shares it: tests/fs/test-others.sh).
expect_eq "a callable is an executable file, mode 0500" "500 regular file" \
	"$(stat -c '%a %F' lib/os/getcwd)"
expect_eq "a value is a read-only file, mode 0400" "400 regular file" \
	"$(stat -c '%a %F' lib/os/sep)"
expect_eq "run/modules is writable, mode 0600" "600 regular file" \
	"$(stat -c '%a %F' run/modules)"
expect_eq "a directory, mode 0500" "500 directory" "$(stat -c '%a %F' lib/json/decoder)"
expect_eq "bin/pow links to builtins' pow" "../run/sys.modules/builtins/pow" "$(readlink bin/pow)"
expect_eq "bin/ holds callables only" "" "$(ls bin | grep -x -e None -e Ellipsis)"

# Names.
check "a private name is hidden with a dot" bash -c 'ls -A lib/os | grep -qx ._exit'
check "and not listed without it" bash -c '! ls -A lib/os | grep -qx _exit'
check "the plain name works too" test -x lib/os/_exit
expect_eq "both names are one inode" "$(stat -c %i lib/os/._exit)" "$(stat -c %i lib/os/_exit)"
check "dunders keep their names" test -f lib/os/__name__
expect_eq "cat lib/os/__name__" "os" "$(cat lib/os/__name__)"
expect_errno "a name that is no attribute" "No such file" stat lib/os/no_such_attribute
expect_errno "a module that is not imported" "No such file" ls lib/no_such_module

# Values.
fx=lib/pyfs_fixture
expect_eq "a tuple: one element per line" "$(printf 'a\nb\n3')" "$(cat $fx/TUPLE)"
expect_eq "a list: one element per line" "$(printf '1\n2.5\nthree')" "$(cat $fx/LIST)"
expect_eq "a frozenset" "only" "$(cat $fx/FROZEN)"
expect_eq "a dict: key=value" "$(printf 'a=1\nb=two')" "$(cat $fx/MAPPING)"
expect_eq "an empty list is an empty file" "0" "$(wc -c < $fx/EMPTY_LIST)"
expect_eq "a str ends with a newline" "12" "$(wc -c < $fx/TEXT)"
expect_eq "None" "None" "$(cat $fx/NOTHING)"
expect_eq "bytes show as str() does" "b'\\x00\\x01'" "$(cat $fx/RAW)"
expect_eq "lone surrogates are escaped, not an error" 'bad\udcffend' "$(cat $fx/SURROGATE)"
expect_eq "a private value" "hidden" "$(cat $fx/._private)"
expect_eq "a dunder value" "kept" "$(cat $fx/__dunder__)"
expect_eq "str() of a scalar, then a newline" "$(printf '/\n')" "$(cat lib/os/sep)"
check "a list: one element per line" bash -c 'test "$(wc -l < lib/sys/path)" -ge 2'
check "a mapping: key=value lines" bash -c 'grep -qx "PATH=$PATH" lib/os/environ'

# stat: owner, times, exact sizes, stable inodes.
expect_eq "files belong to the daemon's user" "$(id -u):$(id -g)" "$(stat -c '%u:%g' lib/os/sep)"
check "times are real (after 2020)" test "$(stat -c %Y lib/os/sep)" -gt 1577836800
bad_sizes=$(find lib bin dot -type f 2>/dev/null | head -400 | while read -r f; do
	[ "$(stat -c %s "$f")" = "$(wc -c < "$f")" ] || echo "$f"
done)
expect_eq "st_size is what a read returns (wc -c = stat %s)" "" "$bad_sizes"
ino=$(stat -c %i lib/json/dumps)
ls -lR lib >/dev/null
expect_eq "inode numbers are stable" "$ino" "$(stat -c %i lib/json/dumps)"
check "head, tail -c and cp work on a value file" sh -c \
	'head -c 3 lib/sys/version >/dev/null && tail -c 2 lib/sys/version | od -c | grep -q "\\\\n" && cp lib/sys/version "$0/copy" && cmp -s lib/sys/version "$0/copy"' "$WORK"
check "mmap readers work (python mmap)" /usr/bin/python3 -c '
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    assert m[:] == open(sys.argv[1], "rb").read()' lib/sys/version

# Finite: tools that do not follow symlinks terminate.
for tool in "find ." "ls -R ." "du -s ." "grep -r -q no-such-text-anywhere ." "tar cf /dev/null ." \
	"tree -a ." "cp -r lib $WORK/copy-lib"; do
	timeout 60 $tool >/dev/null 2>&1
	status=$?
	if [ $status -eq 124 ]; then not_ok "$tool terminates"; else ok "$tool terminates"; fi
done
expect_eq "find reaches submodules but stays finite" "yes" \
	"$(find . -path ./lib/xml.etree.ElementTree -prune -o -name decoder -print | grep -q lib/json/decoder && echo yes)"
expect_eq "grep -r finds a value" "lib/os/sep:/" "$(grep -rx / lib/os 2>/dev/null | grep '^lib/os/sep:')"

# dot/
check "dot/ lists str methods" test -x dot/split
expect_eq "dot/split" '["Hello", "world"]' "$(echo Hello world | dot/split)"

pyfs_finish
