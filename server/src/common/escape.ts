/**
 * Text from a file (section, symbol and type names, paths) shown in a message: control
 * characters become visible escapes, so a name cannot end a "one-line" error early or send
 * escape sequences to a terminal. `\n` → `\\n`, ESC → `\\x1b`, C1 controls and DEL too.
 */
export function escapeControls(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, (c) => CONTROL_NAMES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : s;
}

// Control characters are what these match, on purpose.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;

const CONTROL_NAMES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
