#!/usr/bin/env bash
# Installs promtool, prometheus, alertmanager and amtool from Debian's packages when missing.
# Debian names the Alertmanager binary prometheus-alertmanager; both names are accepted.
set -euo pipefail
have_all() {
  command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v amtool >/dev/null &&
    { command -v alertmanager >/dev/null || command -v prometheus-alertmanager >/dev/null; }
}
have_all && exit 0
if ! command -v apt-get >/dev/null; then
  echo "error: promtool/prometheus/alertmanager/amtool are missing and apt-get is not available;" \
       "install Prometheus 2.42+ and Alertmanager 0.25+ so that these commands are on PATH" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "error: promtool/prometheus/alertmanager are missing; run as root or install them:" \
         "apt-get install prometheus prometheus-alertmanager" >&2
    exit 1
  fi
fi
echo "installing Prometheus tools from Debian's packages (prometheus, prometheus-alertmanager)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' services from being started on this machine.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
$SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
$SUDO rm -f /usr/sbin/policy-rc.d
have_all || { echo "error: Prometheus tools still missing after apt-get install" >&2; exit 1; }
