#!/usr/bin/env bash
# mkman.sh POKETRACE OUTDIR VERSION: man pages written from the command's own
# --help text (one source: what --help says is what man says): poketrace(1)
# and poketrace-CMD(1) for each command.
set -eu
P=$1 OUT=$2 VER=$3
mkdir -p "$OUT"
cmds="record report graph replay dump info live attach detach sites"
page() { # NAME SECTION-TITLE HELP-TEXT
	local name=$1 title=$2
	{
		echo ".TH $(tr a-z A-Z <<<"$name") 1 \"\" \"poketrace $VER\" \"User Commands\""
		echo ".SH NAME"
		echo "$name \\- $title"
		echo ".SH DESCRIPTION"
		echo ".nf"
		# roff: a leading dot or quote starts a request, a backslash escapes
		sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
		echo ".fi"
		echo ".SH SEE ALSO"
		if [ "$name" = poketrace ]; then
			for c in $cmds; do printf '.BR poketrace-%s (1)\n' "$c"; done
		else
			echo ".BR poketrace (1)"
		fi
	} > "$OUT/$name.1"
}
"$P" --help | page poketrace "live-patching tracer for user-space functions"
for c in $cmds; do
	"$P" "$c" --help | page "poketrace-$c" "poketrace $c"
done
