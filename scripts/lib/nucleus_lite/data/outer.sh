#!/bin/bash
# Start a private systemd (inner.sh) in its own PID + mount + cgroup namespace.
# usage: outer.sh <cgroup name> <run folder>
# The cgroup (under the systemd and unified hierarchies) becomes the namespace's cgroup root, so the
# private systemd manages only its own subtree; the run folder is the only host folder it writes.
set -euo pipefail
name=$1 run=$2
for h in systemd unified; do mkdir -p "/sys/fs/cgroup/$h/$name"; echo $$ > "/sys/fs/cgroup/$h/$name/cgroup.procs"; done
# --kill-child: if unshare dies (its parent, the test, died: see namespace.py), PID 1 inside dies too.
exec unshare --pid --mount --cgroup --fork --kill-child=SIGKILL --mount-proc "$run/ns/inner.sh" "$run"
