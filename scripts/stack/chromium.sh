# Debian's chromium, for the browser tests of the analyst's page (driven headless by puppeteer-core,
# which downloads no browser of its own). Not a service: only `install` and `status` do anything,
# and it is not part of `up` (the demo does not need it); `make browser` and `make test` install it.
# Sourced by scripts/stack.sh (which provides log, die, apt_install).

BI_CHROMIUM=${BI_CHROMIUM:-/usr/bin/chromium}

chromium_install() {
  [ -x "$BI_CHROMIUM" ] || apt_install chromium
  [ -x "$BI_CHROMIUM" ] || die "chromium not found at $BI_CHROMIUM after install (set BI_CHROMIUM)"
}
chromium_start() { :; }
chromium_stop() { :; }
chromium_status() {
  if [ -x "$BI_CHROMIUM" ]; then
    printf '  %-10s installed  %s\n' chromium "$("$BI_CHROMIUM" --version 2>/dev/null | head -1)"
  else
    printf '  %-10s missing    (make browser)\n' chromium
  fi
}
