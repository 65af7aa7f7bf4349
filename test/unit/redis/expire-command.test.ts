import {execFileSync, spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {AWK_KEY_PATTERN, patternScanGlob, redisQuoted} from '../../../src/advisors/ttl.js'
import {keyPattern} from '../../../src/probes/redis/patterns.js'
import {HOSTILE_NAMES, hostileStrings} from '../../helpers/hostile.js'

// The awks a pasted command may meet: gawk (most Linux), mawk (Debian/Ubuntu's default awk), and whatever `awk` is
// here. Those not installed are left out; the integration test runs the machine's `awk` against a real Redis.
const AWKS = ['gawk', 'mawk', 'awk'].filter((a) => spawnSync(a, ['BEGIN{exit 0}']).status === 0)

/** Keys shaped like real ones (ids of every kind keyPattern knows) and hostile ones, in several positions. */
function sampleKeys(): string[] {
  const ids = ['123', '-4.5', '1_000', '0f8fad5b-d9cb-469f-a165-70867728950e', '0F8FAD5BD9CB469FA16570867728950E', 'deadbeef1', '0Xdeadbeef',
    'cafebabe', '2024-01-31', '2024-01-31T12', 'ab-1234', 'x_999', 'abc1234', 'a@b.example', '10.0.0.1', 'v2', 'cart', 'wait', 'Session',
    'aB3dE5gH', 'abcdefgh', 'abcdefghijklmnopqrst', 'abcdefghijklmnopqrs1', 'abc-def_ghi-jkl_mnop-q', 'x'.repeat(32), '😀😀😀😀a1', 'é'.repeat(20),
    'ünï1234', '*', '**', '', '.', 'a..b', '.x1y2z3w4', 'a\nb1c2d3e4', 'tab\t12345678', '"q"\\1234567', '\u0007bell12345']
  const parts = [...ids, ...HOSTILE_NAMES, ...hostileStrings(150, 21)]
  return parts.flatMap((p, i) => [p, `cp:${p}`, `cp:${p}:meta`, `_kombu.${p}.celery`, `api/v1/${p}|${ids[i % ids.length]}`])
}

describe('TTL backfill: glob and key filter', () => {
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

  it.each(AWKS)('%s computes the same pattern as keyPattern, from the quoted key', (awk) => {
    const keys = sampleKeys()
    const out = execFileSync(awk, [`${AWK_KEY_PATTERN} {print kp(substr($0,2,length($0)-2))}`], {
      input: keys.map((k) => `${redisQuoted(k)}\n`).join(''), encoding: 'utf8', env: {...process.env, LC_ALL: 'C'}, maxBuffer: 64 << 20,
    }).split('\n').slice(0, -1)
    expect(out.length).toBe(keys.length)
    keys.forEach((k, i) => expect(out[i], JSON.stringify(k)).toBe(redisQuoted(keyPattern(k)).slice(1, -1)))
  })
})
