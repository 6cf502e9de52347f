/** C0 and C1 control characters: in a terminal they can move the cursor, recolour, or retitle the window. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * Text from elsewhere (a key set's kids, a server's headers) made safe to print: each control character is
 * shown as its `\u` escape, so a hostile value cannot forge output or send escape sequences to the terminal.
 *
 * @example
 * terminalSafe('kid\u001b[2J') // 'kid\\u001b[2J'
 */
export function terminalSafe (text: string): string {
  return text.replace(CONTROL, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
