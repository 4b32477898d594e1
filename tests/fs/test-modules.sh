#!/usr/bin/env bash
# run/modules: its file semantics (README, "run/modules").
EXPECTED_WARNINGS='Cannot import|Refused a write'
. "$(dirname "$0")/lib.sh"

pyfs_start
cd "$MNT" || exit 1
list() { cat run/modules; }

expect_eq "cat: one name per line, in order" "$(printf 'json\nos\nsys')" "$(list)"
expect_eq "the file ends with a newline" "json os sys " "$(tr '\n' ' ' < run/modules)"
check "append" bash -c 'echo re >> run/modules'
expect_eq "appended at the end" "$(printf 'json\nos\nsys\nre')" "$(list)"
check "append a listed name" bash -c 'echo json >> run/modules'
expect_eq "a listed name is not added twice" "$(printf 'json\nos\nsys\nre')" "$(list)"
check "whitespace-separated names" bash -c 'echo "string	csv  textwrap" >> run/modules'
expect_eq "all of them appended, in order" "$(printf 'json\nos\nsys\nre\nstring\ncsv\ntextwrap')" "$(list)"
expect_eq "visible at once in ls lib" "csv json os re string sys textwrap" "$(ls lib | tr '\n' ' ' | sed 's/ $//')"

check "truncate and write" bash -c 'echo os > run/modules'
expect_eq "the list is replaced" "os" "$(list)"
check "truncate, several names" bash -c 'printf "%s\n" json sys > run/modules'
expect_eq "replaced by both" "$(printf 'json\nsys')" "$(list)"
check ": > run/modules clears" bash -c ': > run/modules'
expect_eq "cleared" "" "$(list)"
expect_eq "ls lib is empty" "" "$(ls lib)"
check "truncate -s 0 clears" bash -c 'echo os >> run/modules && truncate -s 0 run/modules'
expect_eq "cleared by truncate(2)" "" "$(list)"
check "a writer going on where it left off (python, two writes)" /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"json\n"); os.write(fd, b"os\n"); os.close(fd)' run/modules
expect_eq "both writes landed" "$(printf 'json\nos')" "$(list)"
check "dotted names" bash -c 'echo xml.etree.ElementTree >> run/modules'
check "a dotted name is a directory of its own" test -d lib/xml.etree.ElementTree

before=$(list)
expect_errno "truncate to a non-zero length: EPERM" "Operation not permitted" truncate -s 5 run/modules
expect_errno "a write at an offset: EPERM" "Operation not permitted" \
	dd if=/dev/zero of=run/modules bs=1 count=1 seek=3 conv=notrunc status=none
expect_errno "an unknown module: the write fails" "No such file" bash -c 'echo no_such_module >> run/modules'
check "the import failure is logged with its traceback" \
	grep -q "ModuleNotFoundError: No module named 'no_such_module'" "$PYFS_LOG"
expect_errno "a module whose import raises" "No such file" bash -c 'echo pyfs_broken >> run/modules'
check "its traceback is in the log" grep -q 'raise ImportError("pyfs_broken refuses to load")' "$PYFS_LOG"
expect_errno "several names in one write, one bad: all or nothing" "No such file" \
	/usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND); os.write(fd, b"csv\nno_such_module\n")' run/modules
expect_errno "truncate + a bad name: the list is kept" "No such file" \
	bash -c 'echo no_such_module > run/modules'
expect_errno "an invalid name: EINVAL" "Invalid argument" bash -c 'echo a-b >> run/modules'
expect_errno "a name ending with a dot" "Invalid argument" bash -c 'echo os. >> run/modules'
expect_errno "a path is no module name" "Invalid argument" bash -c 'echo ../etc >> run/modules'
expect_errno "a NUL byte" "Invalid or incomplete multibyte" bash -c 'printf "os\0sys\n" >> run/modules'
expect_errno "non-UTF-8" "Invalid or incomplete multibyte" bash -c 'printf "\xff\xfe\n" >> run/modules'
expect_errno "a name longer than 255 bytes" "Invalid argument" \
	bash -c "printf '%0300d\n' 0 | tr 0 a >> run/modules"
expect_errno "one write over 64 KiB" "File too large" \
	/usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND); os.write(fd, b"os " * 40000)' run/modules
expect_eq "after every refusal the list is unchanged" "$before" "$(list)"
check "the daemon still answers" daemon_alive

expect_errno "a Unicode identifier passes the parser and fails at import" "No such file" \
	bash -c 'echo nö_such >> run/modules'

pyfs_finish
