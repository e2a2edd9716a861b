#!/bin/sh
# Desktop or terminal notification for a matched event: notify-send when a desktop session is
# there, else a line on the controlling terminal (with a bell), else standard output.
# The message is built by notify.sh from the event on standard input. Only the terminal line names
# the rule: 'tripline run' prefixes standard output with [rule/target] itself.
set -eu
here=$(dirname "$0")
message=$("$here/notify.sh")
if command -v notify-send >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    notify-send --app-name=Tripline "Tripline: ${TRIPLINE_RULE:-alert}" "$message" && exit 0
fi
if [ -w /dev/tty ] 2>/dev/null && { printf '\a[%s] %s\n' "${TRIPLINE_RULE:-alert}" "$message" > /dev/tty; } 2>/dev/null; then
    exit 0
fi
printf '%s\n' "$message"
