/**
 * Quoting for the shell commands chokepoint prints. A remedy is pasted into a terminal, so every argument that
 * comes from the audited system (a key, a queue, a vhost) must reach the program as exactly one word, whatever it
 * holds: `$(…)`, backticks, `;`, `|`, `&`, globs and quotes included.
 */

/**
 * One POSIX shell word: single quotes, inside which nothing is special, and each ' written as '\''. Newlines stay
 * literal inside the quotes (sh, bash and zsh keep them). NUL cannot be passed in an argument at all, so a word
 * containing one is refused instead of being cut short.
 */
export function shellWord(text: string | number): string {
  const s = String(text)
  if (s.includes('\u0000')) throw new Error('a shell argument cannot contain a NUL character')
  return `'${s.replace(/'/g, `'\\''`)}'`
}
