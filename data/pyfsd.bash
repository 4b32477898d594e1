# bash completion for pyfsd, and for the executable files of pyfs mounts.
#
# bash-completion loads this file the first time pyfsd is completed. To
# complete the executables too (mnt/lib/re/sub --<TAB>, or a name found
# on PATH through a mount's bin/), source it at shell start-up, after
# bash-completion, e.g. in ~/.bashrc:
#
#   . /usr/share/bash-completion/completions/pyfsd
#
# An executable's keyword parameters come from pyfsd's call server, which
# reads them from the callable's signature (pyfs-call --complete): no
# Python starts for a TAB, and a mount whose server cannot answer offers
# nothing.

_pyfsd()
{
    local cur prev words cword
    _init_completion -s || return

    case $prev in
        -m | --module | -t | --timeout)
            return
            ;;
        -o | --option)
            COMPREPLY=($(compgen -W 'allow_other auto_unmount ro default_permissions
                fsname= subtype= max_read= debug' -- "$cur"))
            [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
            return
            ;;
        --venv)
            _filedir -d
            return
            ;;
    esac
    # --venv=DIR, --module=NAME...: the value after the "=".
    $split && [[ $prev == --venv ]] && { _filedir -d; return; }
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '-f --foreground -m --module= -d --debug -o --option=
            -t --timeout= --venv= --allow-others --version -h --help' -- "$cur"))
        [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
        return
    fi
    _filedir -d
}
complete -F _pyfsd pyfsd

# The dispatcher named by the file $1 (a path, or a name on PATH) when it is
# an executable of a pyfs mount ("#!/.../pyfs-call"); fails otherwise.
_pyfs_dispatcher()
{
    local file=$1 line
    [[ $file == */* ]] || file=$(type -P -- "$file") || return 1
    [[ -f $file && -x $file ]] || return 1
    IFS= read -r line 2>/dev/null <"$file" || return 1
    [[ $line == '#!'/*/pyfs-call ]] || return 1
    printf '%s\n' "${line#\#!}"
}

# The default completion (complete -D): a pyfs executable's options, from
# its signature; anything else goes to the default completion that was
# there before (bash-completion's loader).
_pyfs_executable()
{
    local cmd=$1 cur=${COMP_WORDS[COMP_CWORD]} file dispatcher
    if dispatcher=$(_pyfs_dispatcher "$cmd"); then
        file=$cmd
        [[ $file == */* ]] || file=$(type -P -- "$cmd")
        COMPREPLY=()
        # Options only: a positional argument completes as a file name.
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <("$dispatcher" --complete "$file" "$cur" \
                "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
            [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
        else
            compopt -o default 2>/dev/null
        fi
        return 0
    fi
    if [[ -n ${_pyfs_default_completion-} ]]; then
        "$_pyfs_default_completion" "$@"
        return
    fi
    compopt -o default 2>/dev/null
    return 0
}

# Installed once per shell, wrapping the default completion found then.
if [[ -z ${_pyfs_default_completion+set} ]]; then
    _pyfs_default_completion=$(complete -p -D 2>/dev/null |
        sed -n 's/.*-F \([^ ]*\).*/\1/p')
    [[ $_pyfs_default_completion == _pyfs_executable ]] && _pyfs_default_completion=
    complete -D -F _pyfs_executable
fi

# ex: filetype=sh
