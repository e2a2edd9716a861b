#!/bin/sh
# Desktop or terminal notification for a matched event: notify-send when a desktop session is
# there, else a line on the controlling terminal (with a bell), else standard output.
# The message is built by notify.sh from the event on standard input. Only the terminal line names
# the rule: 'tripline run' prefixes standard output with [rule/target] itself.
# The terminal line bypasses 'tripline run', which escapes what handlers print, so this handler
# makes it safe itself: one line, with no control characters (C0, ESC, DEL, C1) from the event.
set -eu
here=$(dirname "$0")

# Standard input to one line without control characters: newlines, CR and tabs become spaces;
# other C0 controls (ESC included), DEL and the UTF-8 encodings of C1 controls are removed.
c1=$(printf '\302[\200-\237]')
one_line() {
    LC_ALL=C tr '\n\r\t' '   ' | LC_ALL=C tr -d '\000-\037\177' | LC_ALL=C sed "s/$c1//g; s/ *\$//"
}

message=$("$here/notify.sh" | one_line)
rule=$(printf '%s' "${TRIPLINE_RULE:-alert}" | one_line)
if command -v notify-send >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    notify-send --app-name=Tripline "Tripline: $rule" "$message" && exit 0
fi
if [ -w /dev/tty ] 2>/dev/null && { printf '\a[%s] %s\n' "$rule" "$message" > /dev/tty; } 2>/dev/null; then
    exit 0
fi
printf '%s\n' "$message"
