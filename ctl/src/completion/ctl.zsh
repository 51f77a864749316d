#compdef ctl
# zsh completion for ctl. Load it with
#   source <(ctl completion zsh)
# after compinit, or save it as _ctl in a directory of $fpath. At each TAB it asks ctl itself
# what may come next (`ctl __complete WORDS...`), with a description of each candidate.

_ctl() {
    local -a lines described
    local answer last directive line value description
    # `--namespace=ku`: ctl answers with values, which complete what follows the `=`.
    [[ $PREFIX == -*=* ]] && compset -P '*='
    answer=$("${words[1]}" __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)
    lines=("${(@f)answer}")
    last=${lines[-1]}
    # An answer without its directive line comes from something that is not ctl's completion.
    [[ $last == :<-> ]] || return 1
    directive=${last#:}
    lines=("${(@)lines[1,-2]}")

    (( directive & 1 )) && return 1
    if (( directive & 8 )); then
        _files -g "*.(${(j:|:)lines})"
        return
    fi
    if (( directive & 16 )); then
        if (( ${#lines} )); then _files -/ -W "${lines[1]}"; else _files -/; fi
        return
    fi
    for line in "${lines[@]}"; do
        [[ -z $line ]] && continue
        value=${line%%$'\t'*}
        description=""
        [[ $line == *$'\t'* ]] && description=${line#*$'\t'}
        # _describe reads `value:description`; a colon in the value is escaped.
        described+=("${value//:/\\:}${description:+:$description}")
    done
    if (( ${#described} == 0 )); then
        (( directive & 4 )) && return 1
        _files
        return
    fi
    local -a options=()
    (( directive & 2 )) && options+=(-S '')
    if (( directive & 32 )); then
        _describe -V -t ctl-values 'ctl' described "${options[@]}"
    else
        _describe -t ctl-values 'ctl' described "${options[@]}"
    fi
}

# Loaded from $fpath the file is the function's body; sourced, it registers the function.
if [[ ${funcstack[1]} == _ctl ]]; then
    _ctl "$@"
elif (( $+functions[compdef] )); then
    compdef _ctl ctl
fi
