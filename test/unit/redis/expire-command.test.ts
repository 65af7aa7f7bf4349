import {execFileSync, spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {patternLineRegex, patternScanGlob, redisQuoted} from '../../../src/advisors/ttl.js'
import {keyPattern} from '../../../src/probes/redis/patterns.js'
import {HOSTILE_NAMES, hostileStrings} from '../../helpers/hostile.js'

// The awks a pasted command may meet: gawk (most Linux), mawk (Debian/Ubuntu's default awk). Those not installed
// are left out; the integration test runs whichever `awk` the machine has against a real Redis.
const AWKS = ['gawk', 'mawk', 'awk'].filter((a) => spawnSync(a, ['BEGIN{exit 0}']).status === 0)

/** The lines of `lines` the pattern's filter keeps, by a real awk (the regex goes in as the command writes it). */
function kept(awk: string, pattern: string, lines: string[]): string[] {
  const out = execFileSync(awk, [`/${patternLineRegex(pattern)}/`], {input: lines.map((l) => `${l}\n`).join(''), encoding: 'utf8', env: {...process.env, LC_ALL: 'C'}})
  return out.split('\n').filter(Boolean)
}

describe('TTL backfill: glob and line filter', () => {
  it('escapes the glob characters a key holds and keeps the pattern\'s wildcards', () => {
    expect(patternScanGlob('session:*')).toBe('session:*')
    expect(patternScanGlob('a*b:*')).toBe('a\\*b:*')
    expect(patternScanGlob('we?rd[1]\\:*:x')).toBe('we\\?rd\\[1\\]\\\\:*:x')
    expect(patternScanGlob('_kombu.*.celery')).toBe('_kombu.*.celery')
    expect(patternScanGlob('**:*')).toBe('\\*\\*:*')
  })

  it('quotes a key the way redis-cli prints it outside raw mode', () => {
    expect(redisQuoted('a"b\\c\nd\té☃\u0007')).toBe('"a\\"b\\\\c\\nd\\t\\xc3\\xa9\\xe2\\x98\\x83\\a"')
  })

  it.each(AWKS)('%s keeps every key of a pattern, hostile ones included', (awk) => {
    const keys = [...HOSTILE_NAMES, ...hostileStrings(100, 11)].flatMap((k) => [`cp:${k}`, `cp:${k}:1234`, `${k}.x:99`])
    const byPattern = new Map<string, string[]>()
    for (const k of keys) byPattern.set(keyPattern(k), [...(byPattern.get(keyPattern(k)) ?? []), redisQuoted(k)])
    for (const [pattern, lines] of byPattern) expect(kept(awk, pattern, lines), pattern).toEqual(lines)
  })

  it.each(AWKS)('%s drops keys whose wildcard would cross a separator or whose text differs', (awk) => {
    const lines = ['cp:1', 'cp:1:meta', 'cp:', 'cpx:1', 'cp:a/b', 'cp:a|b', 'xcp:1', 'victim', 'cp:1\nvictim2', 'a*b:1', 'aXb:1', 'ab:1'].map(redisQuoted)
    // cp:1\nvictim2 is a key of cp:* (its second segment reads as an identifier): kept whole, never split into "victim2".
    expect(kept(awk, 'cp:*', lines)).toEqual([redisQuoted('cp:1'), redisQuoted('cp:1\nvictim2')])
    expect(kept(awk, 'a*b:*', lines)).toEqual([redisQuoted('a*b:1')])
    expect(kept(awk, '_kombu.*.celery', ['_kombu.binding.celery', '_kombu.a.b.celery', '_kombu..celery'].map(redisQuoted))).toEqual([redisQuoted('_kombu.binding.celery')])
  })
})
