import {ProbeSkip, errorMessage} from '../../core/errors.js'
import {round} from '../../core/numbers.js'
import type {CommandLog, Probe, ProbeContext} from '../../core/probe.js'
import {describeRedisError} from '../../drivers/connect-errors.js'
import {RedisSession} from '../../drivers/redis.js'
import {isPermissionError, parseInfo, policyIsLfu} from './info-parse.js'
import {keyPattern, patternMatches} from './patterns.js'
import {refusalReason, sendOrSkip} from '../queues/redis-discovery.js'
import {WELL_KNOWN_QUEUE_KEYS, customBullQueuePrefix, queueFrameworkOf, queueNameOf, type QueueFramework} from './queue-keys.js'
import {sleep} from '../../core/probe.js'

export const SAMPLE_DEFAULTS = {
  /** Keys read at most, over all primaries (option sampleKeys). */
  sampleKeys: 10_000,
  /** SCAN COUNT hint; capped at 100 so that one SCAN call stays a small, fast slice of the server's time. */
  scanCount: 100,
  /** Pause between SCAN calls (ms) so the server serves other clients between our batches (option scanPauseMs). */
  scanPauseMs: 2,
  /** Patterns kept in the reading, by memory (option topPatterns). */
  topPatterns: 100,
  /** A key without TTL that nobody touched for this long counts as "not read" (option coldIdleSeconds). */
  coldIdleSeconds: 86_400,
}

export const TTL_BUCKETS = [['<1h', 3600], ['1-4h', 4 * 3600], ['4-12h', 12 * 3600], ['12-24h', 86_400], ['1-7d', 7 * 86_400], ['>7d', Infinity]] as const
export const IDLE_BUCKETS = [['<1m', 60], ['1-10m', 600], ['10m-1h', 3600], ['1-24h', 86_400], ['1-7d', 7 * 86_400], ['>7d', Infinity]] as const

type AccessMode = 'idle' | 'freq' | 'none'

/** One sampled key, reduced to numbers: nothing of its name or value is kept. */
interface KeyFacts {
  ttlMs: number
  bytes?: number
  idle?: number
  freq?: number
}

interface PatternAcc {
  pattern: string
  types: Record<string, number>
  keys: KeyFacts[]
  queue?: QueueFramework
}

export interface PatternStats {
  pattern: string
  keys: number
  estimatedKeys: number
  bytes: number | null
  estimatedBytes: number | null
  memoryShare: number | null
  types: Record<string, number>
  noTtl: number
  noTtlShare: number
  noTtlBytes: number | null
  ttlBuckets: Record<string, number>
  ttlSeconds: {p10: number; p50: number; p90: number; max: number} | null
  idleSeconds: {p50: number; p90: number; max: number} | null
  idleBuckets: Record<string, number> | null
  freq: {p50: number; max: number; zero: number} | null
  /**
   * Keys not read since they were written, as far as can be told: `eligible` keys could be judged, `unread` of
   * them look unread, by `basis` (see docs/probes.md: idle≈age for TTL'd keys, idle ≥ coldIdleSeconds for keys
   * without TTL, LFU counter 0 under LFU policies).
   */
  unread: {eligible: number; unread: number; basis: string[]}
  queue?: QueueFramework
}

export interface KeyspaceSampleData {
  policy: string | null
  accessMode: AccessMode
  mode: 'standalone' | 'cluster' | string
  nodes: Array<{node: string; dbsize: number; sampled: number; complete: boolean; scanCalls: number}>
  sampledKeys: number
  dbsize: number
  /** dbsize / sampledKeys: multiply sampled counts and bytes by it to estimate the whole keyspace. */
  scale: number
  complete: boolean
  sampledBytes: number | null
  noTtlBytes: number | null
  options: {sampleKeys: number; scanCount: number; scanPauseMs: number; coldIdleSeconds: number}
  /** Commands the server refused, with why: the readings that needed them are missing, the rest is there. */
  skipped: Record<string, string>
  queues: Partial<Record<QueueFramework, {keys: number; queues: string[]}>>
  patterns: PatternStats[]
  otherPatterns: {patterns: number; keys: number; bytes: number | null} | null
}


function numberOption(options: Record<string, unknown>, name: keyof typeof SAMPLE_DEFAULTS, min: number, max: number): number {
  const raw = options[name]
  const n = raw === undefined ? SAMPLE_DEFAULTS[name] : Number(raw)
  if (!Number.isFinite(n)) return SAMPLE_DEFAULTS[name]
  return Math.min(Math.max(n, min), max)
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[i]
}

function bucketise(values: number[], buckets: readonly (readonly [string, number])[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(buckets.map(([name]) => [name, 0]))
  for (const v of values) out[buckets.find(([, limit]) => v < limit)![0]]++
  return out
}

/** Everything the per-node sampler needs to know and to report back. */
interface SampleState {
  patterns: Map<string, PatternAcc>
  skipped: Record<string, string>
  access: AccessMode
  memory: boolean
  queueKeys: Map<QueueFramework, {keys: number; queues: Set<string>}>
  /** "<prefix>:<queue>" of BullMQ queues under a custom prefix. */
  bullPrefixes: Set<string>
}

function noteQueue(state: SampleState, key: string, framework: QueueFramework): void {
  const entry = state.queueKeys.get(framework) ?? {keys: 0, queues: new Set<string>()}
  entry.keys++
  const name = queueNameOf(key, framework)
  if (name && entry.queues.size < 20) entry.queues.add(name)
  state.queueKeys.set(framework, entry)
}

/** SCANs one node up to `cap` keys, pipelining TYPE, PTTL, MEMORY USAGE and OBJECT IDLETIME|FREQ per batch. */
async function sampleNode(session: RedisSession, cap: number, opts: {scanCount: number; scanPauseMs: number; onKeys?: (sampled: number) => void}, state: SampleState) {
  let cursor = '0'
  let sampled = 0
  let scanCalls = 0
  let complete = false
  while (sampled < cap) {
    if (scanCalls > 0 && opts.scanPauseMs > 0) await sleep(opts.scanPauseMs)
    let reply: [string, string[]]
    try {
      reply = await session.send<[string, string[]]>('SCAN', cursor, 'COUNT', opts.scanCount)
    } catch (error) {
      const refused = scanCalls === 0 ? refusalReason(error, ['SCAN']) : undefined
      if (refused) throw new ProbeSkip(`${refused}: no key sample`)
      throw error
    }
    scanCalls++
    cursor = reply[0]
    const keys = reply[1].slice(0, cap - sampled)
    if (keys.length > 0) sampled += await readBatch(session, keys, state)
    opts.onKeys?.(sampled)
    if (cursor === '0') {
      complete = true
      break
    }
  }
  return {sampled, scanCalls, complete}
}

async function readBatch(session: RedisSession, keys: string[], state: SampleState): Promise<number> {
  const perKey: Array<[string, ...Array<string | number>]> = []
  const layout: string[] = ['TYPE', 'PTTL']
  if (state.memory) layout.push('MEMORY')
  if (state.access !== 'none') layout.push('OBJECT')
  for (const key of keys) {
    perKey.push(['TYPE', key], ['PTTL', key])
    // MEMORY USAGE with the default SAMPLES 5: nested types are estimated from 5 elements, cheap and close enough.
    if (state.memory) perKey.push(['MEMORY', 'USAGE', key])
    if (state.access !== 'none') perKey.push(['OBJECT', state.access === 'idle' ? 'IDLETIME' : 'FREQ', key])
  }
  const replies = await session.pipeline(perKey)
  const width = layout.length
  let counted = 0
  for (let i = 0; i < keys.length; i++) {
    const at = (name: string) => replies[i * width + layout.indexOf(name)]
    const [typeErr, type] = at('TYPE')
    if (typeErr) {
      if (isPermissionError(typeErr)) throw new ProbeSkip(`${refusalReason(typeErr, ['TYPE', keys[i]]) ?? `TYPE refused (${errorMessage(typeErr)})`}: keys cannot be classified`)
      throw typeErr
    }
    // Deleted or expired between SCAN and TYPE.
    if (type === 'none') continue
    const [ttlErr, pttl] = at('PTTL')
    if (ttlErr) {
      if (isPermissionError(ttlErr)) throw new ProbeSkip(`${refusalReason(ttlErr, ['PTTL', keys[i]]) ?? `PTTL refused (${errorMessage(ttlErr)})`}: TTLs unknown`)
      throw ttlErr
    }
    const facts: KeyFacts = {ttlMs: Number(pttl)}
    if (facts.ttlMs === -2) continue
    if (state.memory) {
      const [memErr, bytes] = at('MEMORY')
      if (memErr) {
        if (isPermissionError(memErr)) {
          state.memory = false
          state.skipped.memory = `skipped: MEMORY USAGE refused (${errorMessage(memErr)}): per-pattern bytes unknown; grant +memory|usage`
        } else throw memErr
      } else if (bytes !== null) facts.bytes = Number(bytes)
    }
    if (state.access !== 'none' && layout.includes('OBJECT')) {
      const [objErr, value] = at('OBJECT')
      if (objErr) {
        const message = errorMessage(objErr)
        // The policy changed or was unknown: IDLETIME is refused under LFU and FREQ under the others.
        if (/LFU/i.test(message) && state.access === 'idle') state.access = 'freq'
        else if (/LRU|not LFU|LFU maxmemory policy is not selected/i.test(message) && state.access === 'freq') state.access = 'idle'
        else if (isPermissionError(objErr)) {
          state.access = 'none'
          state.skipped.access = `skipped: OBJECT refused (${message}): idle times and access frequencies unknown; grant +object|idletime +object|freq`
        } else throw objErr
      } else if (state.access === 'idle') facts.idle = Number(value)
      else facts.freq = Number(value)
    }
    const framework = queueFrameworkOf(keys[i], String(type))
    const prefix = customBullQueuePrefix(keys[i], String(type))
    if (prefix) state.bullPrefixes.add(prefix)
    if (framework) noteQueue(state, keys[i], framework)
    const pattern = keyPattern(keys[i])
    let acc = state.patterns.get(pattern)
    if (!acc) {
      acc = {pattern, types: {}, keys: []}
      state.patterns.set(pattern, acc)
    }
    acc.types[String(type)] = (acc.types[String(type)] ?? 0) + 1
    if (framework) acc.queue = framework
    acc.keys.push(facts)
    counted++
  }
  return counted
}

/** Primaries of a cluster from CLUSTER NODES: "<id> <ip:port@cport[,host]> <flags> ..." with flags containing master. */
export function clusterPrimaries(nodesText: string): Array<{host: string; port: number; myself: boolean}> {
  const out: Array<{host: string; port: number; myself: boolean}> = []
  for (const line of nodesText.split('\n')) {
    const fields = line.trim().split(' ')
    if (fields.length < 8) continue
    const flags = fields[2].split(',')
    if (!flags.includes('master') || flags.includes('fail') || flags.includes('noaddr')) continue
    // A primary without slots holds no keys.
    if (fields.length < 9) continue
    const address = fields[1].split('@')[0]
    const colon = address.lastIndexOf(':')
    out.push({host: address.slice(0, colon), port: Number(address.slice(colon + 1)), myself: flags.includes('myself')})
  }
  return out
}

function nodeUrl(base: string, host: string, port: number): string {
  const u = new URL(base)
  u.hostname = host.includes(':') ? `[${host}]` : host
  u.port = String(port)
  return u.toString()
}

function summarise(acc: PatternAcc, scale: number, totalBytes: number | null, coldIdleSeconds: number): PatternStats {
  const n = acc.keys.length
  const withTtl = acc.keys.filter((k) => k.ttlMs >= 0)
  const ttlSec = withTtl.map((k) => k.ttlMs / 1000).sort((a, b) => a - b)
  const noTtlKeys = acc.keys.filter((k) => k.ttlMs === -1)
  const hasBytes = acc.keys.some((k) => k.bytes !== undefined)
  const bytes = hasBytes ? acc.keys.reduce((s, k) => s + (k.bytes ?? 0), 0) : null
  const noTtlBytes = hasBytes ? noTtlKeys.reduce((s, k) => s + (k.bytes ?? 0), 0) : null
  const idles = acc.keys.filter((k) => k.idle !== undefined).map((k) => k.idle!).sort((a, b) => a - b)
  const freqs = acc.keys.filter((k) => k.freq !== undefined).map((k) => k.freq!).sort((a, b) => a - b)

  // "Unread since written": a TTL'd key's age is estimated as (longest remaining TTL in its pattern - its own
  // remaining TTL), which holds when the application writes the pattern with one fixed TTL. Idle time (reset by
  // reads and writes alike) close to that age means nothing touched the key after writing it.
  const maxTtl = ttlSec.length ? ttlSec[ttlSec.length - 1] : 0
  let eligible = 0
  let unread = 0
  const basis = new Set<string>()
  for (const k of acc.keys) {
    if (k.idle !== undefined) {
      if (k.ttlMs >= 0) {
        const age = maxTtl - k.ttlMs / 1000
        if (age < 300) continue
        eligible++
        basis.add('idle≈age (TTL\'d keys)')
        if (k.idle >= 0.9 * age) unread++
      } else {
        eligible++
        basis.add(`idle ≥ ${coldIdleSeconds}s (keys without TTL)`)
        if (k.idle >= coldIdleSeconds) unread++
      }
    } else if (k.freq !== undefined) {
      eligible++
      basis.add('LFU counter 0')
      if (k.freq === 0) unread++
    }
  }
  return {
    pattern: acc.pattern,
    keys: n,
    estimatedKeys: Math.round(n * scale),
    bytes,
    estimatedBytes: bytes === null ? null : Math.round(bytes * scale),
    memoryShare: bytes !== null && totalBytes ? bytes / totalBytes : null,
    types: acc.types,
    noTtl: noTtlKeys.length,
    noTtlShare: n ? noTtlKeys.length / n : 0,
    noTtlBytes,
    ttlBuckets: {none: noTtlKeys.length, ...bucketise(ttlSec, TTL_BUCKETS)},
    ttlSeconds: ttlSec.length ? {p10: round(percentile(ttlSec, 0.1), 1), p50: round(percentile(ttlSec, 0.5), 1), p90: round(percentile(ttlSec, 0.9), 1), max: round(maxTtl, 1)} : null,
    idleSeconds: idles.length ? {p50: percentile(idles, 0.5), p90: percentile(idles, 0.9), max: idles[idles.length - 1]} : null,
    idleBuckets: idles.length ? bucketise(idles, IDLE_BUCKETS) : null,
    freq: freqs.length ? {p50: percentile(freqs, 0.5), max: freqs[freqs.length - 1], zero: freqs.filter((f) => f === 0).length} : null,
    unread: {eligible, unread, basis: [...basis]},
    ...(acc.queue ? {queue: acc.queue} : {}),
  }
}

/**
 * A bounded sample of the keyspace, grouped into key patterns: per pattern the key count, memory, TTL and idle
 * distributions, and whether keys belong to a job queue. SCAN with COUNT <= 100 and a pause between calls,
 * never KEYS; every per-key read (TYPE, PTTL, MEMORY USAGE, OBJECT) is read-only and does not touch the key's
 * LRU/LFU data. In cluster mode each primary is sampled through its own connection.
 */
export const redisKeyspaceSampleProbe: Probe<RedisSession> = {
  id: 'redis.keys',
  kind: 'redis',
  description: 'SCAN-based key sample grouped by pattern: count, memory, TTL and idle distributions, queue keys',

  async collect(session, ctx: ProbeContext) {
    const options = ctx.options
    const sampleKeys = Math.round(numberOption(options, 'sampleKeys', 1, 1_000_000))
    const scanCount = Math.round(numberOption(options, 'scanCount', 1, 100))
    const scanPauseMs = numberOption(options, 'scanPauseMs', 0, 10_000)
    const topPatterns = Math.round(numberOption(options, 'topPatterns', 1, 1000))
    const coldIdleSeconds = numberOption(options, 'coldIdleSeconds', 60, 365 * 86_400)

    const state: SampleState = {patterns: new Map(), skipped: {}, access: 'idle', memory: true, queueKeys: new Map(), bullPrefixes: new Set()}
    let policy: string | null = null
    let mode = 'standalone'
    try {
      const info = parseInfo(await session.send<string>('INFO', 'memory'))
      policy = info.maxmemory_policy ?? null
      const server = parseInfo(await session.send<string>('INFO', 'server'))
      mode = server.redis_mode ?? 'standalone'
    } catch (error) {
      if (!isPermissionError(error)) throw error
      state.skipped.policy = `skipped: INFO refused (${errorMessage(error)}): policy unknown; IDLETIME is tried first`
    }
    // IDLETIME errors under an LFU policy and FREQ under the others; pick by policy (readBatch switches if wrong).
    state.access = policyIsLfu(policy ?? undefined) ? 'freq' : 'idle'

    const nodes: KeyspaceSampleData['nodes'] = []
    const sessions: Array<{label: string; session: RedisSession; own: boolean}> = []
    if (mode === 'cluster') {
      const text = await sendOrSkip<string>(session, 'CLUSTER', 'NODES')
      const primaries = clusterPrimaries(text)
      for (const p of primaries) {
        if (p.myself) sessions.push({label: `${p.host}:${p.port}`, session, own: false})
        else sessions.push({label: `${p.host}:${p.port}`, session: await RedisSession.open(nodeUrl(ctx.target.url, p.host, p.port), session.log as CommandLog), own: true})
      }
    } else sessions.push({label: 'primary', session, own: false})

    let sampled = 0
    let progress: ReturnType<NonNullable<ProbeContext['progress']>['start']> | undefined
    try {
      // The key cap is shared by the primaries, so a cluster costs no more than a single server.
      const perNode = Math.max(1, Math.ceil(sampleKeys / sessions.length))
      const sizes: number[] = []
      for (const node of sessions) sizes.push(Number(await sendOrSkip(node.session, 'DBSIZE')))
      // Out of what the sample will read: the cap, or fewer keys when the keyspace is smaller.
      const total = sizes.reduce((sum, size) => sum + Math.min(perNode, Number.isFinite(size) ? size : perNode), 0)
      progress = ctx.progress?.start(`${ctx.target.name}: key sample`, total, 'keys')
      for (const [i, node] of sessions.entries()) {
        const dbsize = sizes[i]
        const before = sampled
        let result
        try {
          result = await sampleNode(node.session, perNode, {scanCount, scanPauseMs, onKeys: (n) => progress?.tick(before + n)}, state)
        } catch (error) {
          if (error instanceof ProbeSkip) throw error
          throw new Error(`sampling ${node.label} stopped after ${sampled} keys: ${describeRedisError(error)}`)
        }
        sampled += result.sampled
        nodes.push({node: node.label, dbsize, ...result})
      }
      // Fixed-name queue keys (Sidekiq's `queues`, Celery's `celery`/`unacked`) are checked directly: a sample of a
      // large keyspace would likely miss them. Cluster nodes answer MOVED for other slots: those are ignored.
      const types = await session.pipeline(WELL_KNOWN_QUEUE_KEYS.map((k) => ['TYPE', k] as [string, string]))
      types.forEach(([err, type], i) => {
        if (err || type === 'none') return
        const key = WELL_KNOWN_QUEUE_KEYS[i]
        const framework = queueFrameworkOf(key, String(type))
        // Sidekiq's schedule/retry/dead alone are common words: count them only next to its `queues` set.
        if (framework && (framework !== 'sidekiq' || key === 'queues' || state.queueKeys.has('sidekiq'))) {
          if (!state.patterns.has(key)) noteQueue(state, key, framework)
        }
      })
    } finally {
      progress?.end()
      for (const node of sessions) if (node.own) await node.session.close()
    }

    // A random-looking prefix is generalised to "*" in the pattern, so match the pattern against the queue's keys.
    for (const prefix of state.bullPrefixes) {
      for (const acc of state.patterns.values()) {
        if (!acc.queue && (patternMatches(acc.pattern, `${prefix}:1`) || patternMatches(acc.pattern, `${prefix}:wait`))) {
          acc.queue = 'bullmq'
          noteQueue(state, acc.pattern, 'bullmq')
        }
      }
    }

    const dbsize = nodes.reduce((s, n) => s + n.dbsize, 0)
    const complete = nodes.every((n) => n.complete)
    const scale = sampled > 0 ? Math.max(1, dbsize / sampled) : 1
    const all = [...state.patterns.values()]
    const sampledBytes = state.memory && all.some((a) => a.keys.some((k) => k.bytes !== undefined))
      ? all.reduce((s, a) => s + a.keys.reduce((t, k) => t + (k.bytes ?? 0), 0), 0) : null
    const stats = all.map((a) => summarise(a, scale, sampledBytes, coldIdleSeconds))
    stats.sort((a, b) => (b.bytes ?? 0) - (a.bytes ?? 0) || b.keys - a.keys || a.pattern.localeCompare(b.pattern))
    const kept = stats.slice(0, topPatterns)
    const rest = stats.slice(topPatterns)
    const data: KeyspaceSampleData = {
      policy,
      accessMode: state.access,
      mode,
      nodes,
      sampledKeys: sampled,
      dbsize,
      scale,
      complete,
      sampledBytes,
      noTtlBytes: sampledBytes === null ? null : stats.reduce((s, p) => s + (p.noTtlBytes ?? 0), 0),
      options: {sampleKeys, scanCount, scanPauseMs, coldIdleSeconds},
      skipped: state.skipped,
      queues: Object.fromEntries([...state.queueKeys].map(([f, v]) => [f, {keys: v.keys, queues: [...v.queues].sort()}])),
      patterns: kept,
      otherPatterns: rest.length ? {patterns: rest.length, keys: rest.reduce((s, p) => s + p.keys, 0), bytes: sampledBytes === null ? null : rest.reduce((s, p) => s + (p.bytes ?? 0), 0)} : null,
    }
    for (const [what, why] of Object.entries(state.skipped)) ctx.log(`${ctx.target.name}: redis.keys: ${what}: ${why}`)
    return {data, metrics: []}
  },
}
