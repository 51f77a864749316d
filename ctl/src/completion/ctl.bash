# bash completion for ctl. Load it with
#   source <(ctl completion bash)
# or save it as /etc/bash_completion.d/ctl. At each TAB it asks ctl itself what may come next
# (`ctl __completeNoDesc WORDS...`), which knows the cluster's resource types and objects.

_ctl() {
    local program=${COMP_WORDS[0]}
    local -a words=()
    local index word joining=0
    # Bash splits `--namespace=kube` and `pod:path` at `=` and `:` (COMP_WORDBREAKS); ctl reads
    # such a word whole, so the pieces are joined again.
    for ((index = 1; index <= COMP_CWORD; index++)); do
        word=${COMP_WORDS[index]}
        if [[ ${#words[@]} -gt 0 && ( $word == "=" || $word == ":" ) ]]; then
            words[-1]+=$word
            joining=1
        elif [[ $joining == 1 ]]; then
            words[-1]+=$word
            joining=0
        else
            words+=("$word")
        fi
    done
    [[ ${#words[@]} -eq 0 ]] && words=("")
    local current=${words[-1]}

    local answer last directive
    answer=$("$program" __completeNoDesc "${words[@]}" 2>/dev/null)
    last=${answer##*$'\n'}
    # An answer without its directive line comes from something that is not ctl's completion.
    [[ $last =~ ^:([0-9]+)$ ]] || return 0
    directive=${BASH_REMATCH[1]}
    if [[ $answer == *$'\n'* ]]; then answer=${answer%$'\n'*}; else answer=""; fi
    local -a candidates=()
    [[ -n $answer ]] && mapfile -t candidates <<<"$answer"

    COMPREPLY=()
    (( directive & 1 )) && return 0
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    (( directive & 32 )) && compopt -o nosort 2>/dev/null
    if (( directive & 8 )); then
        # The candidates are the file extensions to offer.
        local pattern
        pattern=$(IFS='|'; printf '%s' "${candidates[*]}")
        mapfile -t COMPREPLY < <(shopt -s extglob; compgen -f -X "!*.@($pattern)" -- "$current")
        compopt -o filenames 2>/dev/null
        return 0
    fi
    if (( directive & 16 )); then
        # Directories, under the one candidate when there is one.
        if [[ ${#candidates[@]} -gt 0 ]]; then
            mapfile -t COMPREPLY < <(cd -- "${candidates[0]}" 2>/dev/null && compgen -d -- "$current")
        else
            mapfile -t COMPREPLY < <(compgen -d -- "$current")
        fi
        compopt -o filenames 2>/dev/null
        return 0
    fi
    if [[ ${#candidates[@]} -eq 0 ]]; then
        # Nothing from ctl: file names, unless the directive says they make no sense here.
        (( directive & 4 )) || compopt -o default 2>/dev/null
        return 0
    fi
    # Bash replaces only what follows the last `:` of the word; ctl's candidates are whole.
    if [[ $current == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local typed=${current%"${current##*:}"}
        candidates=("${candidates[@]#"$typed"}")
    fi
    COMPREPLY=("${candidates[@]}")
}

complete -F _ctl ctl
