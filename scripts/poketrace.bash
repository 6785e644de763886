# bash completion for poketrace
_poketrace() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]:-}
	local cmds="record report graph replay dump info live attach detach sites help"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
		return
	fi
	case "$cmd" in
	record | attach)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output --tracer -F --filter -N --notrace -m --module -A --args
				-R --retval -D --depth -t --time-filter -b --buffer --buffer-max --on-full --paused
				-H --hide -C --caller-filter --select --exclude --no-follow -p --pid --help" -- "$cur"))
		elif [ "$cmd" = record ]; then
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		;;
	live)
		COMPREPLY=($(compgen -W "-p status enable disable filter notrace modules flush stop" -- "$cur")) ;;
	report | graph | replay | dump | info)
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	sites)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	esac
}
complete -F _poketrace poketrace
