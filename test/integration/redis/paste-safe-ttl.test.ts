/**
 * The TTL backfill each cache/no-ttl-pattern finding prints is run, through bash, against a Redis holding keys with
 * hostile names, and the keyspace is diffed: exactly the keys of the finding's pattern that had no TTL get one; no
 * key of another pattern, none that already had a TTL, and no key is created or deleted. The names carry glob
 * characters (a literal '*' must not widen the SCAN to another pattern), shell metacharacters, quotes, unicode and
 * newlines (a key must not be split into other keys' names on its way from SCAN to EXPIRE).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {remedyOfKind} from '../../../src/core/remedies.js'
import type {Finding} from '../../../src/core/types.js'
import {keyPattern} from '../../../src/probes/redis/patterns.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {auditRedis, client, findingsOf, redisTarget} from './audit-helpers.js'

/**
 * Literal key segments, each with its pattern's keys cp-paste:<segment>:<id>. Short enough that keyPattern keeps
 * them as text, so the hostile characters are in the printed pattern itself. Several come with a decoy the glob
 * would also match unescaped (a*b takes aXYb, q? takes qZ, [ab] takes a, back\slash takes backslash).
 */
const SEGMENTS = [
  'a*b', 'aXYb', 'q?', 'qZ', '[ab]', 'a', 'back\\slash', 'backslash',
  '$(touch pwned)', '`touch pwnd`', 'a;b&c>d<e', "it's \"q\" $HOME", 'sp ace', 'ünï☃名', 'tab\tx', '%s{{x}}!#~', 'nl',
]
const prefixOf = (segment: string) => `cp-paste:${segment}`

function keyspaceFixture(): Array<{key: string; ttl?: number}> {
  const keys: Array<{key: string; ttl?: number}> = []
  for (const prefix of SEGMENTS.map(prefixOf)) {
    for (let i = 0; i < 5; i++) keys.push({key: `${prefix}:${1000 + i}`})
    // Same prefix, one segment more: Redis's '*' would cross the ':' into these.
    for (let i = 0; i < 4; i++) keys.push({key: `${prefix}:${1000 + i}:meta`})
    // A key of the pattern that already has a TTL: EXPIRE ... NX keeps it.
    keys.push({key: `${prefix}:999`, ttl: 99_999})
  }
  // Keys holding a newline: printed raw, each would read as two keys, the second one of cp-paste:nl:*.
  for (let i = 0; i < 4; i++) keys.push({key: `cp-paste:nl:${i}\ncp-paste:nl:${1000 + i}`})
  return keys
}

const servers: RedisServer[] = []
let c: Redis
let url: string
let findings: Finding[] = []

/** Every key with whether it has a TTL (and its value, which nothing may change), from a full SCAN. */
async function keyspace(): Promise<Map<string, {ttl: boolean; value: string | null}>> {
  const out = new Map<string, {ttl: boolean; value: string | null}>()
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await c.scan(cursor, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  for (const key of keys) out.set(key, {ttl: (await c.pttl(key)) > 0, value: await c.get(key)})
  return out
}

beforeAll(async () => {
  const s = await startRedis()
  servers.push(s)
  url = s.url
  c = await client(url)
  for (const {key, ttl} of keyspaceFixture()) {
    if (ttl) await c.set(key, 'v', 'EX', ttl)
    else await c.set(key, 'v')
  }
  const {report} = await auditRedis([redisTarget(url)])
  findings = findingsOf(report, 'cache/no-ttl-pattern')
})

afterAll(async () => {
  c?.disconnect()
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe('TTL backfill commands with hostile key names', () => {
  const patterns = [...new Set(keyspaceFixture().filter((k) => !k.ttl).map((k) => keyPattern(k.key)))]

  it('the audit proposes a TTL for every pattern of the fixture, each hostile segment kept as text in it', () => {
    for (const segment of SEGMENTS) expect(keyPattern(`${prefixOf(segment)}:1000`)).toBe(`${prefixOf(segment)}:*`)
    expect(findings.map((f) => f.subject).sort()).toEqual([...patterns].sort())
  })

  it.each(patterns.map((p) => [p]))('the backfill of %j sets TTLs on exactly its keys that had none', async (pattern) => {
    const remedy = remedyOfKind(findings.find((f) => f.subject === pattern)!.remedies, 'ttl')!
    const before = await keyspace()
    const cwd = mkdtempSync(join(tmpdir(), 'cp-paste-sh-'))
    try {
      // The product never runs it (appliers do); the test runs it as pasted, in an empty directory so that any
      // command substitution that escaped its quotes would leave a file there.
      execFileSync('bash', ['-c', String(remedy.command)], {cwd, env: {...process.env, REDIS_URL: url}, stdio: 'pipe'})
      expect(readdirSync(cwd)).toEqual([])
    } finally {
      rmSync(cwd, {recursive: true, force: true})
    }
    const after = await keyspace()
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
    const gained = [...after].filter(([k, v]) => v.ttl && !before.get(k)!.ttl).map(([k]) => k).sort()
    const lost = [...after].filter(([k, v]) => !v.ttl && before.get(k)!.ttl).map(([k]) => k)
    const expected = [...before].filter(([k, v]) => !v.ttl && keyPattern(k) === pattern).map(([k]) => k).sort()
    expect(expected.length).toBeGreaterThan(0)
    expect(gained).toEqual(expected)
    expect(lost).toEqual([])
    for (const [k, v] of after) expect(v.value, k).toBe(before.get(k)!.value)
    // The one key that had a TTL kept its own (NX), not the proposed one.
    for (const [k] of before) if (keyPattern(k) === pattern && before.get(k)!.ttl) expect(await c.ttl(k)).toBeGreaterThan(90_000)
  })
})
