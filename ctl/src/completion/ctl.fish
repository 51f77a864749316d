# fish completion for ctl. Load it with
#   ctl completion fish | source
# or save it as ~/.config/fish/completions/ctl.fish. At each TAB it asks ctl itself what may
# come next (`ctl __complete WORDS...`); fish shows the descriptions ctl gives.

function __ctl_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    # Quoted, an empty word (after a space) is still passed: it is the one to complete.
    set -l answer ($words[1] __complete $words[2..-1] "$current" 2>/dev/null)
    set -l last $answer[-1]
    # An answer without its directive line comes from something that is not ctl's completion.
    string match -qr '^:[0-9]+$' -- $last; or return
    set -l directive (string sub -s 2 -- $last)
    set -e answer[-1]

    if test (math "bitand($directive, 1)") -ne 0
        return
    end
    if test (math "bitand($directive, 8)") -ne 0
        for extension in $answer
            __fish_complete_suffix "$current" .$extension
        end
        return
    end
    if test (math "bitand($directive, 16)") -ne 0
        __fish_complete_directories "$current"
        return
    end
    if test (count $answer) -eq 0
        # Nothing from ctl: file names, unless the directive says they make no sense here.
        if test (math "bitand($directive, 4)") -eq 0
            __fish_complete_path "$current"
        end
        return
    end
    # `--namespace=ku`: ctl answers with values; fish wants the whole word.
    set -l typed ""
    string match -qr -- '^-[^=]*=' "$current"; and set typed (string match -r -- '^-[^=]*=' "$current")
    for line in $answer
        echo "$typed$line"
    end
end

complete -c ctl -f -a '(__ctl_complete)'
