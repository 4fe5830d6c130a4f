#!/bin/bash
# PID 1 of a fresh pid+mount+cgroup namespace (see outer.sh). Everything it writes stays private:
# - tmpfs on /run, /tmp and /dev/shm: the host's /tmp is NOT visible inside, so nothing in here
#   (systemd-tmpfiles above all: Debian's tmp.conf empties /tmp at boot) can touch other people's files;
# - overlays on /etc and /var: users, units and nucleus state land in <run>/ns/*-upper;
# - every early-boot unit masked (systemd-tmpfiles-* included) before systemd starts.
# The run folder is the one host folder bound inside, at /tmp/ggl.
# usage: inner.sh <run folder>
set -euo pipefail
run=$1
N=$run/ns
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir /run/keep; mount --bind "$run" /run/keep
mount -t tmpfs -o mode=1777 tmpfs /tmp            # host /tmp is NOT visible/writable inside
mkdir /tmp/ggl; mount --move /run/keep /tmp/ggl
mount -t tmpfs -o mode=1777 tmpfs /dev/shm        # nor is the host's /dev/shm (frame rings)
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$N/etc-upper,workdir=$N/etc-work" /etc
mount -t overlay overlay -o "lowerdir=/var,upperdir=$N/var-upper,workdir=$N/var-work" /var
umount -R /sys/fs/cgroup || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /etc/systemd/system
cp /tmp/ggl/ns/ggtest.target /etc/systemd/system/
ln -sf /etc/systemd/system/ggtest.target /etc/systemd/system/default.target
# mask everything early-boot that could touch shared kernel/fs state
for u in $(ls -1 /lib/systemd/system/sysinit.target.wants/) \
   systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer systemd-tmpfiles-clean.service \
   systemd-sysctl.service systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
   systemd-modules-load.service systemd-random-seed.service systemd-binfmt.service swap.target getty.target \
   systemd-logind.service systemd-timesyncd.service sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount \
   sys-fs-fuse-connections.mount sys-kernel-config.mount dev-mqueue.mount modprobe@.service tmp.mount; do
  case $u in *.wants|''|systemd-journald.service) continue;; esac
  ln -sf /dev/null "/etc/systemd/system/$u"
done
grep -q '^ggcore:' /etc/passwd || { groupadd -r ggcore; useradd -r -Ng ggcore ggcore; groupadd -r gg_component; useradd -r -Ng gg_component gg_component; }
mkdir -p /var/lib/greengrass /etc/greengrass; chown ggcore:ggcore /var/lib/greengrass
if [ -f /tmp/ggl/config.yaml ]; then cp /tmp/ggl/config.yaml /etc/greengrass/config.yaml; fi
# The device key: readable by the nucleus's own user only.
if [ -f /tmp/ggl/certs/device.key ]; then chgrp ggcore /tmp/ggl/certs/device.key; chmod 0640 /tmp/ggl/certs/device.key; fi
export container=other
exec /lib/systemd/systemd --system --unit=ggtest.target --log-target=console --log-level=info
