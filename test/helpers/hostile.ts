/**
 * Names built to break a printed command: SQL and shell metacharacters, quotes, globs, unicode, newlines. The fixed
 * list holds one case per way a name has broken (or could break) a remedy; `hostileStrings` adds seeded random ones
 * from the same alphabet.
 *
 * Written so it can switch to fast-check (not a devDependency yet): `forEachHostile(n, seed, check)` is
 * `fc.assert(fc.property(hostileArbitrary, check), {numRuns: n, seed})` with
 * `hostileArbitrary = fc.oneof(fc.constantFrom(...HOSTILE_NAMES), fc.stringOf(fc.constantFrom(...HOSTILE_ALPHABET), {minLength: 1, maxLength: 24}))`.
 */
export const HOSTILE_NAMES: readonly string[] = [
  'app; DROP TABLE victim2; --',
  'with space',
  "it's",
  'say "hi"',
  `"'";--`,
  'tab\tand\nnewline',
  'back\\slash\\',
  '$$dollar$$ $q$ quoted $q$',
  'ünïcødé ☃ 名前',
  'glob*?[ab]\\',
  '$(touch /tmp/cp-paste-pwned)',
  '`touch /tmp/cp-paste-pwned`',
  'a|b&c;d>e<f',
  '-n 1',
  'UPPER Case',
  'a.b',
  '%s%n{{evidence.x}}',
]

/** Every character class that has a meaning somewhere in SQL, a shell, a glob, awk or redis-cli's quoting. */
export const HOSTILE_ALPHABET: readonly string[] = [
  'a', 'Z', '0', '_', ' ', "'", '"', ';', '-', '$', '\\', '*', '?', '[', ']', '(', ')', '`', '|', '&', '<', '>', '.',
  ':', '/', '\n', '\t', '\r', '%', '{', '}', '#', '!', '~', '=', 'é', '☃', '名', '\u0007',
]

/** A small deterministic generator (mulberry32), so a failing case reproduces from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export function hostileStrings(count: number, seed = 8, maxLength = 24): string[] {
  const next = random(seed)
  return Array.from({length: count}, () => {
    const length = 1 + Math.floor(next() * maxLength)
    return Array.from({length}, () => HOSTILE_ALPHABET[Math.floor(next() * HOSTILE_ALPHABET.length)]).join('')
  })
}

/** The fixed names, then `count` random ones; `check` names the failing input in its assertion messages. */
export function forEachHostile(count: number, seed: number, check: (name: string) => void): void {
  for (const name of [...HOSTILE_NAMES, ...hostileStrings(count, seed)]) check(name)
}
