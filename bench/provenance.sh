# shellcheck shell=bash
# provenance ROOT: the lines every benchmark output starts with, so that no
# figure is separated from the code and machine it was measured on
# (sourced by the bench/*.sh scripts). The keys are in Go's benchmark
# format ("key: value"), which benchstat reads as configuration.
#   commit: `git describe --always --dirty` of the tree measured (dirty:
#           uncommitted changes were in it: the figure has no commit)
#   date:   UTC, when the run started
#   machine: host name, CPUs, CPU model, kernel, Go version
#   load:   the 1/5/15-minute load average at the start
provenance() {
	local root=$1 commit
	commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "unknown (not a git checkout)")
	echo "commit: $commit"
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine: $(uname -n), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r), $(go version 2>/dev/null | cut -d' ' -f3)"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# busy_warning LOAD: the warning every script prints when the 1-minute load
# average at its start (first field of LOAD) was above 0.5.
busy_warning() {
	if awk -v l="${1%% *}" 'BEGIN { exit !(l > 0.5) }'; then
		echo "WARNING: the machine was busy when this run started (load ${1%% *}): treat the numbers as noise."
	fi
}
