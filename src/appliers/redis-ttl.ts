/**
 * The built-in `ttl` applier (docs/apply.md, "ttl applier"): backfills a TTL on the keys of a cache pattern that
 * have none, as the ttl advisor's remedy proposes, and can undo exactly that.
 *
 * - Refuses any pattern that is not a cache (sessions, tokens, locks, rate limiters, counters, queues, streams,
 *   unknown data): the class is read from the report and checked again on a fresh key sample in preflight.
 * - SCAN MATCH with the pattern's glob (patternScanGlob), keeping only the keys whose pattern is exactly the remedy's
 *   (keyPattern), in bounded batches (COUNT) with a pause between them and a cap on the keys changed per run.
 * - Each key gets `EXPIRE key ttl NX` with its own TTL drawn from [t, 2t), and its absolute expiry (PEXPIRETIME) is
 *   recorded in the undo after every batch, so rollback PERSISTs a key only while it still expires at exactly the
 *   moment this run set: a key the application rewrote or gave its own TTL is left alone.
 * - One apply per pattern at a time: a lock key (SET NX PX with a random token, renewed per batch, released by
 *   compare-and-delete) whose name is `chokepoint:apply-lock:ttl:<pattern>`.
 */
import {randomBytes, randomInt} from 'node:crypto'
import {ApplyRefusal, ChangeLeftUnfinished, type AppliedChange, type Applier, type ApplyContext, type ChangePlan, type ChangeRecord, type PreflightResult,
  type RollbackResult, type Verification} from '../core/applier.js'
import {errorMessage} from '../core/errors.js'
import {CommandLog, ConnectionLost, DeadlineExceeded, sleep} from '../core/probe.js'
import type {Remedy, TtlRemedy} from '../core/remedies.js'
import {classifyPattern, formatSeconds, patternScanGlob, redisQuoted, type KeyClass} from '../advisors/ttl.js'
import {describeRedisError} from '../drivers/connect-errors.js'
import {RedisSession} from '../drivers/redis.js'
import {isPermissionError, parseInfo} from '../probes/redis/info-parse.js'
import {keyPattern} from '../probes/redis/patterns.js'

/** Defaults of the applier's target options (docs/apply.md); each is bounded in src/builtin.ts. */
export const TTL_APPLY_DEFAULTS = {
  /** Keys given a TTL at most per run (option ttlApplyMaxKeys). */
  maxKeys: 10_000,
  /** Keys recorded one by one in the journal; past it, the pattern, a count, a sample and the expiry range (ttlApplyUndoKeys). */
  undoKeys: 100_000,
  /** SCAN COUNT hint, as the probe's (option scanCount, at most 100). */
  scanCount: 100,
  /** Pause between batches, ms (option ttlApplyPauseMs). */
  pauseMs: 10,
}

/** Keys sampled to classify the pattern and estimate the change (plan and preflight), and SCAN calls spent on it. */
const SAMPLE_KEYS = 200
const SAMPLE_SCAN_CALLS = 100
/** Keys of the undo kept as a sample past the undo cap. */
const OVERFLOW_SAMPLE = 20
/** The lock's lease: renewed after every batch, so a crashed apply frees the pattern within this time. */
export const LOCK_LEASE_MS = 60_000
/** Statements kept verbatim in the applied change and rollback result; the rest are counted. */
const STATEMENTS_SHOWN = 20
/** Verification: the share of sampled changed keys that may have lost their TTL (rewritten by the application without one). */
export const VERIFY_LOST_TTL_TOLERANCE = 0.1
/** Verification: the most the keyspace hit rate may fall over the verify window (absolute, 0.05 = 5 points). */
export const HIT_RATE_TOLERANCE = 0.05
/** Fewer lookups than this over a window say nothing about a hit rate. */
export const MIN_LOOKUPS = 100
/** Changed keys whose TTL verification samples. */
const VERIFY_SAMPLE = 200

/** The name of the lock key that serialises applies (and rollbacks) on one pattern. */
export function lockKeyOf(pattern: string): string {
  return `chokepoint:apply-lock:ttl:${pattern}`
}

/**
 * Lua scripts, each on one key it declares (KEYS[1]), so they run the same on a cluster's primary. Compare-and-delete
 * and compare-and-renew for the lock; persist-if-ours for rollback: PERSIST only when the key's absolute expiry
 * (PEXPIRETIME, ms) lies in [ARGV[1], ARGV[2]] (one exact value for a recorded key). Replies: 1 persisted, -1 the key
 * has no TTL now, -2 the key is gone, 2 it carries another TTL (left alone).
 */
export const SCRIPTS = {
  release: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
  takeOver: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false",
  renew: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
  persistIfOurs: "local t = redis.call('PEXPIRETIME', KEYS[1]) if t < 0 then return t end"
    + " if t >= tonumber(ARGV[1]) and t <= tonumber(ARGV[2]) then return redis.call('PERSIST', KEYS[1]) end return 2",
}

export interface TtlSession {
  redis: RedisSession
  version: string
}

/** What the undo of a ttl change holds (plain JSON in the journal). */
export interface TtlUndo {
  pattern: string
  glob: string
  ttlSeconds: number
  ttlMaxSeconds: number
  /** Every key given a TTL, with the absolute expiry (unix ms, server clock) it was given. */
  keys: Array<[key: string, expiresAtMs: number]>
  /** Keys changed past the undo cap: only counted, sampled and bounded by the expiry times this run set. */
  overflow?: {count: number; sample: string[]; fromMs: number; toMs: number}
  /** A batch sent whose replies were not read (the connection went away): the keys, and the expiries they may carry. */
  inFlight?: {keys: string[]; fromMs: number; toMs: number}
  /** Keys given a TTL in all (keys + overflow). */
  changed: number
  complete: boolean
  /** The token of the lock this apply held: a rollback of this change may take over a lock it left behind (a lost connection). */
  lockToken?: string
}

interface Sample {
  keys: number
  noTtl: number
  noTtlBytes: number | null
  types: Record<string, number>
  ttlMaxSeconds: number | null
  idleP50: number | null
  scanCalls: number
  /** The SCAN reached its end: the counts are the pattern's, not a sample of it. */
  complete: boolean
  keyClass: KeyClass
  classifiedBy: string
}


function intOption(ctx: ApplyContext, name: string, fallback: number, min: number, max: number): number {
  const raw = ctx.target.options?.[name]
  const n = raw === undefined ? fallback : Number(raw)
  return Number.isFinite(n) ? Math.round(Math.min(Math.max(n, min), max)) : fallback
}

function settings(ctx: ApplyContext) {
  return {
    maxKeys: intOption(ctx, 'ttlApplyMaxKeys', TTL_APPLY_DEFAULTS.maxKeys, 1, 10_000_000),
    undoKeys: intOption(ctx, 'ttlApplyUndoKeys', TTL_APPLY_DEFAULTS.undoKeys, 0, 1_000_000),
    scanCount: intOption(ctx, 'scanCount', TTL_APPLY_DEFAULTS.scanCount, 10, 100),
    pauseMs: intOption(ctx, 'ttlApplyPauseMs', TTL_APPLY_DEFAULTS.pauseMs, 0, 10_000),
  }
}

/** A connection-level failure: the server went away, the wire stalled, or the session was dropped. */
function isConnectionFailure(error: unknown, session: TtlSession): boolean {
  if (error instanceof ConnectionLost || error instanceof DeadlineExceeded) return true
  if (session.redis.lost || session.redis.client.status === 'end' || session.redis.client.status === 'close') return true
  return /Connection is closed|ECONNRESET|EPIPE|ECONNREFUSED|Stream isn't writeable|socket/i.test(errorMessage(error))
}

/** The remedy's pattern and TTLs, or a refusal: only a single-pattern cache TTL remedy with a TTL can be applied. */
function ttlFields(remedy: Remedy): {pattern: string; ttl: number; ttlMax: number} {
  if (remedy.kind !== 'ttl') throw new ApplyRefusal(`the ttl applier carries out ttl remedies, not ${remedy.kind}`)
  const r = remedy as TtlRemedy
  if (!r.pattern) {
    throw new ApplyRefusal(`remedy ${remedy.id} names ${r.patterns?.length ?? 0} patterns and no TTL: apply each pattern's own ttl remedy (its refs)`)
  }
  if (r.ttlSeconds === undefined) {
    throw new ApplyRefusal(`remedy ${remedy.id} for ${r.pattern} is advice for the application (${r.setting ?? 'no TTL proposed'}): there is no EXPIRE backfill to apply`)
  }
  const ttl = r.ttlSeconds
  const ttlMax = r.ttlMaxSeconds ?? 2 * ttl
  if (!Number.isSafeInteger(ttl) || ttl < 1 || !Number.isSafeInteger(ttlMax) || ttlMax <= ttl) {
    throw new ApplyRefusal(`remedy ${remedy.id}: TTL ${ttl}..${ttlMax} s is not a range of whole seconds`)
  }
  return {pattern: r.pattern, ttl, ttlMax}
}

/** The commands the applier sends (docs/apply.md, "Privileges"). */
const ACL_NEEDED = '+scan +type +pttl +memory|usage +object|idletime +expire +pexpiretime +persist +eval +set +get +del +exists +pexpire +info +time'

/** A NOPERM reply as one line, with the ACL change that grants the command it names. */
function permissionRefusal(error: unknown, ctx: ApplyContext): {reason: string; fix: string} {
  const message = errorMessage(error)
  const command = /run the '([\w|]+)' command/i.exec(message)?.[1]
  let user = 'default'
  try {
    user = decodeURIComponent(new URL(ctx.target.url).username) || 'default'
  } catch {}
  return {
    reason: `Redis refused a command: ${message}`,
    fix: command ? `ACL SETUSER ${user} +${command.toLowerCase()} (the applier needs ${ACL_NEEDED})` : `the applier needs ${ACL_NEEDED}`,
  }
}

function refusedClass(pattern: string, keyClass: KeyClass, why: string): string {
  return `${pattern} is classified as ${keyClass} (${why}): only cache patterns get an EXPIRE backfill, since EXPIRE counts down from now and would end live ${keyClass === 'other' ? 'data' : keyClass} state`
}

async function serverTimeMs(session: TtlSession): Promise<number> {
  const [s, us] = await session.redis.send<[string, string]>('TIME')
  return Number(s) * 1000 + Math.floor(Number(us) / 1000)
}

async function statsNow(session: TtlSession): Promise<{hits: number; misses: number; atMs: number}> {
  const info = parseInfo(await session.redis.send<string>('INFO', 'stats'))
  return {hits: Number(info.keyspace_hits ?? 0), misses: Number(info.keyspace_misses ?? 0), atMs: await serverTimeMs(session)}
}

/**
 * Scans the pattern (bounded: SAMPLE_SCAN_CALLS calls, SAMPLE_KEYS keys) and reads each key as the probe does
 * (TYPE, PTTL, MEMORY USAGE, OBJECT IDLETIME: none of them touches the key's LRU/LFU data), then classifies it.
 */
async function samplePattern(session: TtlSession, pattern: string, scanCount: number): Promise<Sample> {
  const glob = patternScanGlob(pattern)
  const types: Record<string, number> = {}
  let keys = 0
  let noTtl = 0
  let noTtlBytes: number | null = 0
  let ttlMax: number | null = null
  const idles: number[] = []
  let cursor = '0'
  let scanCalls = 0
  let complete = false
  while (keys < SAMPLE_KEYS && scanCalls < SAMPLE_SCAN_CALLS) {
    const [next, batch] = await session.redis.send<[string, string[]]>('SCAN', cursor, 'MATCH', glob, 'COUNT', scanCount)
    scanCalls++
    cursor = next
    const mine = batch.filter((k) => keyPattern(k) === pattern).slice(0, SAMPLE_KEYS - keys)
    if (mine.length > 0) {
      const replies = await session.redis.pipeline(mine.flatMap((k) => [['TYPE', k], ['PTTL', k], ['MEMORY', 'USAGE', k], ['OBJECT', 'IDLETIME', k]] as Array<[string, string, ...string[]]>))
      for (let i = 0; i < mine.length; i++) {
        const [[, type], [, pttl], [memErr, bytes], [idleErr, idle]] = replies.slice(i * 4, i * 4 + 4)
        if (type === 'none' || Number(pttl) === -2) continue
        keys++
        types[String(type)] = (types[String(type)] ?? 0) + 1
        const ms = Number(pttl)
        if (ms === -1) {
          noTtl++
          if (memErr || bytes === null) noTtlBytes = null
          else if (noTtlBytes !== null) noTtlBytes += Number(bytes)
        } else ttlMax = Math.max(ttlMax ?? 0, ms / 1000)
        if (!idleErr && idle !== null) idles.push(Number(idle))
      }
    }
    if (cursor === '0') {
      complete = true
      break
    }
  }
  idles.sort((a, b) => a - b)
  const idleP50 = idles.length ? idles[Math.max(0, Math.ceil(idles.length / 2) - 1)] : null
  const {keyClass, rule} = classifyPattern({
    pattern,
    types,
    ttlSeconds: ttlMax === null ? null : {p10: ttlMax, p50: ttlMax, p90: ttlMax, max: ttlMax},
    idleSeconds: idleP50 === null ? null : {p50: idleP50, p90: idles[idles.length - 1], max: idles[idles.length - 1]},
    freq: null,
  })
  return {keys, noTtl, noTtlBytes, types, ttlMaxSeconds: ttlMax, idleP50, scanCalls, complete, keyClass, classifiedBy: rule}
}

function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`
  return `${n} B`
}

/** Keeps the first STATEMENTS_SHOWN statements and counts the rest in one last line. */
class BoundedStatements {
  readonly shown: string[] = []
  private more = 0
  add(statement: string): void {
    if (this.shown.length < STATEMENTS_SHOWN) this.shown.push(statement)
    else this.more++
  }
  list(): string[] {
    return this.more > 0 ? [...this.shown, `# ... and ${this.more} more of the same kind`] : [...this.shown]
  }
}

function evalText(script: string, key: string, ...args: Array<string | number>): string {
  return `EVAL ${redisQuoted(script)} 1 ${redisQuoted(key)} ${args.map((a) => (typeof a === 'number' ? String(a) : redisQuoted(a))).join(' ')}`
}

function isUndo(value: unknown): value is TtlUndo {
  const u = value as TtlUndo | undefined
  return !!u && typeof u.pattern === 'string' && Array.isArray(u.keys) && typeof u.ttlSeconds === 'number' && typeof u.ttlMaxSeconds === 'number'
}

async function takeLock(session: TtlSession, pattern: string, token: string, leftBy?: string): Promise<void> {
  const key = lockKeyOf(pattern)
  let ok = await session.redis.send('SET', key, token, 'NX', 'PX', LOCK_LEASE_MS)
  // The lock the change being undone left behind when its connection went away: still ours to take.
  if (ok !== 'OK' && leftBy) ok = await session.redis.send('EVAL', SCRIPTS.takeOver, 1, key, leftBy, token, LOCK_LEASE_MS)
  if (ok !== 'OK') {
    const left = Number(await session.redis.send('PTTL', key))
    throw new ApplyRefusal(`another chokepoint apply or rollback is working on ${pattern} (lock key ${redisQuoted(key)} held${left > 0 ? `, lease ends in ${Math.ceil(left / 1000)} s` : ''})`,
      'wait for it to finish; a crashed run frees the lock when its lease ends')
  }
}

async function renewLock(session: TtlSession, pattern: string, token: string): Promise<void> {
  const renewed = Number(await session.redis.send('EVAL', SCRIPTS.renew, 1, lockKeyOf(pattern), token, LOCK_LEASE_MS))
  if (renewed !== 1) throw new Error(`lost the lock on ${pattern} (lock key ${redisQuoted(lockKeyOf(pattern))} expired or taken over): stopped`)
}

async function releaseLock(session: TtlSession, pattern: string, token: string): Promise<void> {
  // Best effort: on a lost connection the lease ends by itself.
  if (session.redis.lost) return
  try {
    await session.redis.send('EVAL', SCRIPTS.release, 1, lockKeyOf(pattern), token)
  } catch {
    // the lease ends by itself
  }
}

/**
 * PERSISTs the given keys that still expire within [from, to] (per key, or one range for all), in batches with a
 * pause. Returns the counts by outcome.
 */
async function persistIfOurs(session: TtlSession, entries: Array<[string, number, number]>, opts: {scanCount: number; pauseMs: number}, statements: BoundedStatements,
  counts: {persisted: number; noTtl: number; gone: number; other: number}): Promise<void> {
  for (let i = 0; i < entries.length; i += opts.scanCount) {
    if (i > 0 && opts.pauseMs > 0) await sleep(opts.pauseMs)
    const batch = entries.slice(i, i + opts.scanCount)
    const replies = await session.redis.pipeline(batch.map(([key, from, to]) => ['EVAL', SCRIPTS.persistIfOurs, 1, key, from, to] as [string, ...Array<string | number>]))
    replies.forEach(([error, reply], j) => {
      if (error) throw error
      const r = Number(reply)
      if (r === 1) {
        counts.persisted++
        statements.add(evalText(SCRIPTS.persistIfOurs, batch[j][0], batch[j][1], batch[j][2]))
      } else if (r === -1) counts.noTtl++
      else if (r === -2) counts.gone++
      else counts.other++
    })
  }
}

async function undoChange(change: ChangeRecord, session: TtlSession, ctx: ApplyContext): Promise<RollbackResult> {
  const undo = change.undo
  if (undo === undefined || undo === null) return {ok: true, detail: 'nothing was changed: no key recorded', statements: []}
  if (!isUndo(undo)) return {ok: false, detail: `the journal entry of ${change.changeId} has no ttl undo this applier can read`, statements: []}
  const opts = settings(ctx)
  const statements = new BoundedStatements()
  const counts = {persisted: 0, noTtl: 0, gone: 0, other: 0}
  const token = randomBytes(16).toString('hex')
  await takeLock(session, undo.pattern, token, undo.lockToken)
  try {
    const entries: Array<[string, number, number]> = undo.keys.map(([key, at]) => [key, at, at])
    if (undo.inFlight) for (const key of undo.inFlight.keys) entries.push([key, undo.inFlight.fromMs, undo.inFlight.toMs])
    ctx.progress({phase: 'removing TTLs', done: 0, total: entries.length + (undo.overflow?.count ?? 0), unit: 'keys'})
    await persistIfOurs(session, entries, opts, statements, counts)
    if (undo.overflow) {
      // Past the undo cap the keys are not named: scan the pattern for keys expiring within the range this run set.
      const {fromMs, toMs} = undo.overflow
      let cursor = '0'
      do {
        const [next, batch] = await session.redis.send<[string, string[]]>('SCAN', cursor, 'MATCH', undo.glob, 'COUNT', opts.scanCount)
        cursor = next
        const mine = batch.filter((k) => keyPattern(k) === undo.pattern)
        await persistIfOurs(session, mine.map((k) => [k, fromMs, toMs]), opts, statements, counts)
        if (cursor !== '0' && opts.pauseMs > 0) await sleep(opts.pauseMs)
      } while (cursor !== '0')
    }
  } catch (error) {
    if (error instanceof ApplyRefusal) throw error
    return {ok: false, statements: statements.list(),
      detail: `stopped after persisting ${counts.persisted} keys of ${undo.pattern}: ${describeRedisError(error)}; run the rollback again (it skips keys already done)`}
  } finally {
    await releaseLock(session, undo.pattern, token)
  }
  const left = [counts.other ? `${counts.other} left alone (their TTL changed since: the application set it)` : '',
    counts.noTtl ? `${counts.noTtl} already without TTL (rewritten or persisted before)` : '',
    counts.gone ? `${counts.gone} gone (expired or deleted)` : ''].filter(Boolean)
  return {ok: true, statements: statements.list(),
    detail: `persisted ${counts.persisted} keys of ${undo.pattern} that still carried the TTL this apply set${left.length ? `; ${left.join('; ')}` : ''}`}
}

export const redisTtlApplier: Applier<TtlSession> = {
  id: 'ttl',
  remedyKinds: ['ttl'],
  targetKinds: ['redis'],

  async connect(ctx) {
    if (ctx.target.kind !== 'redis') throw new ApplyRefusal(`the ttl applier works on Redis targets, not ${ctx.target.kind}`)
    ctx.secrets.redactUrl(ctx.target.url)
    // A connection of its own (never the probes' session): the same deadlines, no reconnect, no offline queue.
    const redis = await RedisSession.open(ctx.target.url, new CommandLog(ctx.target.name), {signal: ctx.signal})
    try {
      const server = parseInfo(await redis.send<string>('INFO', 'server'))
      const replication = parseInfo(await redis.send<string>('INFO', 'replication'))
      const version = server.redis_version ?? '0'
      if (server.redis_mode === 'cluster') {
        throw new ApplyRefusal('Redis Cluster: the ttl applier works on one server; apply the remedy to each primary as a target of its own')
      }
      if (replication.role && replication.role !== 'master') throw new ApplyRefusal(`${ctx.target.name} is a replica (role ${replication.role}): apply on its primary`)
      if (Number(/^(\d+)/.exec(version)?.[1] ?? 0) < 7) {
        throw new ApplyRefusal(`Redis ${version}: a TTL backfill needs EXPIRE ... NX and PEXPIRETIME (Redis 7.0), so that no TTL set meanwhile is overwritten and the undo is exact`)
      }
      return {redis, version}
    } catch (error) {
      redis.abort()
      throw error
    }
  },

  async close(session) {
    await session.redis.close()
  },

  async plan(remedy, session, ctx) {
    const {pattern, ttl, ttlMax} = ttlFields(remedy)
    // The class the report gave, then what the name alone says; preflight reads the keys themselves again.
    const reported = ctx.finding?.evidence?.keyClass
    if (typeof reported === 'string' && reported !== 'cache') {
      throw new ApplyRefusal(refusedClass(pattern, reported as KeyClass, `the report: ${String(ctx.finding?.evidence?.classifiedBy ?? 'its evidence')}`))
    }
    const byName = classifyPattern({pattern, types: {}, ttlSeconds: null, idleSeconds: null, freq: null})
    if (byName.keyClass !== 'cache' && byName.keyClass !== 'other') throw new ApplyRefusal(refusedClass(pattern, byName.keyClass, byName.rule))
    const opts = settings(ctx)
    const glob = patternScanGlob(pattern)
    const sample = await samplePattern(session, pattern, opts.scanCount)
    const evidence = ctx.finding?.evidence ?? {}
    const reportKeys = Number(evidence.estimatedKeys ?? (remedy as TtlRemedy).keysAffected ?? NaN)
    const share = sample.keys > 0 ? sample.noTtl / sample.keys : 0
    const perKeyBytes = sample.noTtl > 0 && sample.noTtlBytes !== null ? sample.noTtlBytes / sample.noTtl : null
    let keys: number
    let basis: string
    if (sample.complete) {
      keys = sample.noTtl
      basis = `counted: the scan of ${pattern} reached its end (${sample.keys} keys, ${sample.noTtl} without TTL)`
    } else if (Number.isFinite(reportKeys)) {
      keys = Math.round(reportKeys * share)
      basis = `the report's ~${reportKeys} keys x ${Math.round(share * 100)}% without TTL in a sample of ${sample.keys} now`
    } else {
      keys = sample.noTtl
      basis = `at least the ${sample.noTtl} keys without TTL in a sample of ${sample.keys} (no estimate in the report)`
    }
    const bytes = perKeyBytes === null ? null : Math.round(perKeyBytes * keys)
    const capped = Math.min(keys, opts.maxKeys)
    const lockKey = lockKeyOf(pattern)
    const notes = [
      `affects ~${keys} keys${bytes === null ? '' : ` (~${formatBytes(bytes)})`} of ${pattern} without TTL (${basis})`,
      `each gets a random TTL between ${formatSeconds(ttl)} and ${formatSeconds(ttlMax)}; keys that have a TTL keep theirs (NX)`,
    ]
    if (keys > opts.maxKeys) notes.push(`capped at ${opts.maxKeys} keys this run (option ttlApplyMaxKeys): run apply again for the rest`)
    if (capped > opts.undoKeys) notes.push(`the journal names the first ${opts.undoKeys} keys (option ttlApplyUndoKeys); the rest are recorded as a count, a sample and their expiry range`)
    if (sample.keyClass !== 'cache') notes.push(`the keys sampled now read as ${sample.keyClass} (${sample.classifiedBy}): preflight refuses`)
    return {
      remedyId: remedy.id,
      remedyKind: 'ttl',
      applier: 'ttl',
      target: ctx.target.name,
      summary: `expire ~${capped} keys of ${pattern} without TTL after ${formatSeconds(ttl)}..${formatSeconds(ttlMax)} (EXPIRE NX)`,
      statements: [
        `SET ${redisQuoted(lockKey)} <token> NX PX ${LOCK_LEASE_MS}`,
        `SCAN <cursor> MATCH ${redisQuoted(glob)} COUNT ${opts.scanCount}   # until the cursor is 0 or ${opts.maxKeys} keys are set, ${opts.pauseMs} ms between batches; keys whose pattern is exactly ${redisQuoted(pattern)}`,
        `EXPIRE <key> <${ttl}..${ttlMax - 1}, random per key> NX   # then PEXPIRETIME <key>, recorded in the journal`,
        `EVAL ${redisQuoted(SCRIPTS.release)} 1 ${redisQuoted(lockKey)} <token>`,
      ],
      rollback: [`EVAL ${redisQuoted(SCRIPTS.persistIfOurs)} 1 <key> <expiry set, ms> <expiry set, ms>   # each key recorded: PERSIST only if it still expires when this apply set`],
      details: {pattern, glob, ttlSeconds: ttl, ttlMaxSeconds: ttlMax, lockKey, ...opts,
        estimate: {keys, bytes, basis}, sample: {keys: sample.keys, noTtl: sample.noTtl, types: sample.types, complete: sample.complete, keyClass: sample.keyClass, classifiedBy: sample.classifiedBy},
        statsAtPlan: await statsNow(session).catch(() => null)},
      notes,
    }
  },

  async preflight(plan, session, ctx): Promise<PreflightResult> {
    const pattern = String(plan.details.pattern)
    const lockKey = lockKeyOf(pattern)
    try {
      const holder = Number(await session.redis.send('EXISTS', lockKey))
      if (holder === 1) {
        return {ok: false, reason: `another chokepoint apply or rollback is working on ${pattern} (lock key ${redisQuoted(lockKey)} held)`, fix: 'wait for it to finish; a crashed run frees the lock when its lease ends'}
      }
      // The write commands, tried where they change nothing: on a key that does not exist EXPIRE and PERSIST reply 0.
      // Redis checks the ACL before it looks at the key, so a user without them is refused here, in the dry run.
      const probeKey = `${lockKey}:privilege-check:${randomBytes(6).toString('hex')}`
      await session.redis.send('EXPIRE', probeKey, '1', 'NX')
      await session.redis.send('PERSIST', probeKey)
      const sample = await samplePattern(session, pattern, settings(ctx).scanCount)
      if (sample.keyClass !== 'cache') return {ok: false, reason: refusedClass(pattern, sample.keyClass, `keys sampled now: ${sample.classifiedBy}`)}
      const notes = [`${pattern} reads as a cache now (${sample.classifiedBy}); ${sample.noTtl} of ${sample.keys} sampled keys have no TTL`]
      if (sample.noTtl === 0) notes.push('no sampled key lacks a TTL: the apply may change nothing')
      return {ok: true, notes}
    } catch (error) {
      if (isPermissionError(error)) return {ok: false, ...permissionRefusal(error, ctx)}
      throw error
    }
  },

  async apply(plan, session, ctx, record): Promise<AppliedChange> {
    const pattern = String(plan.details.pattern)
    const glob = patternScanGlob(pattern)
    const ttl = Number(plan.details.ttlSeconds)
    const ttlMax = Number(plan.details.ttlMaxSeconds)
    const opts = settings(ctx)
    const total = Math.min(Number((plan.details.estimate as {keys?: number} | undefined)?.keys ?? opts.maxKeys), opts.maxKeys)
    const token = randomBytes(16).toString('hex')
    const statements = new BoundedStatements()
    const undo: TtlUndo = {pattern, glob, ttlSeconds: ttl, ttlMaxSeconds: ttlMax, keys: [], changed: 0, complete: false, lockToken: token}
    const statsBefore = await statsNow(session)
    await takeLock(session, pattern, token)
    statements.add(`SET ${redisQuoted(lockKeyOf(pattern))} <token> NX PX ${LOCK_LEASE_MS}`)
    const note = (key: string, expiresAt: number) => {
      undo.changed++
      if (undo.keys.length < opts.undoKeys) undo.keys.push([key, expiresAt])
      else {
        undo.overflow ??= {count: 0, sample: [], fromMs: expiresAt, toMs: expiresAt}
        undo.overflow.count++
        if (undo.overflow.sample.length < OVERFLOW_SAMPLE) undo.overflow.sample.push(key)
        undo.overflow.fromMs = Math.min(undo.overflow.fromMs, expiresAt)
        undo.overflow.toMs = Math.max(undo.overflow.toMs, expiresAt)
      }
    }
    let cursor = '0'
    let batches = 0
    let skippedWithTtl = 0
    let cutAtCap = false
    try {
      do {
        if (ctx.signal.aborted) {
          await record({undo})
          throw new Error(`interrupted after ${undo.changed} keys of ${pattern} (${batches} batches): every key changed is in the journal; roll back with apply --rollback`)
        }
        if (batches > 0) await renewLock(session, pattern, token)
        const [next, found] = await session.redis.send<[string, string[]]>('SCAN', cursor, 'MATCH', glob, 'COUNT', opts.scanCount)
        statements.add(`SCAN ${cursor} MATCH ${redisQuoted(glob)} COUNT ${opts.scanCount}`)
        cursor = next
        const matching = found.filter((k) => keyPattern(k) === pattern)
        const keys = matching.slice(0, opts.maxKeys - undo.changed)
        // Keys of this batch left out at the cap: the run is not complete, even when SCAN has come round to cursor 0.
        if (keys.length < matching.length) cutAtCap = true
        if (keys.length > 0) {
          const ttls = keys.map(() => randomInt(ttl, ttlMax))
          // Before the batch: its keys and the expiries they may get, so a crash or a lost connection leaves them in the journal.
          const sentAt = await serverTimeMs(session)
          const started = Date.now()
          undo.inFlight = {keys, fromMs: sentAt + ttl * 1000, toMs: sentAt + ttlMax * 1000 + LOCK_LEASE_MS}
          await record({undo})
          let replies: Array<[Error | null, unknown]>
          try {
            replies = await session.redis.pipeline(keys.flatMap((k, i) => [['EXPIRE', k, ttls[i], 'NX'], ['PEXPIRETIME', k]] as Array<[string, ...Array<string | number>]>))
          } catch (error) {
            // Widen the in-flight range to the time really spent, then say so.
            undo.inFlight.toMs = sentAt + (Date.now() - started) + ttlMax * 1000 + 1000
            throw error
          }
          const lost = replies.find(([error]) => error && isConnectionFailure(error, session))
          if (lost) {
            undo.inFlight.toMs = sentAt + (Date.now() - started) + ttlMax * 1000 + 1000
            throw lost[0]
          }
          keys.forEach((key, i) => {
            const [expireErr, set] = replies[2 * i]
            const [, expiresAt] = replies[2 * i + 1]
            if (expireErr) throw expireErr
            if (Number(set) === 1) {
              note(key, Number(expiresAt))
              statements.add(`EXPIRE ${redisQuoted(key)} ${ttls[i]} NX`)
            } else skippedWithTtl++
          })
          delete undo.inFlight
          await record({undo})
        }
        batches++
        ctx.progress({phase: `setting TTLs on ${pattern}`, done: undo.changed, total, unit: 'keys'})
        if (undo.changed >= opts.maxKeys) break
        if (cursor !== '0' && opts.pauseMs > 0) await sleep(opts.pauseMs, ctx.signal)
      } while (cursor !== '0')
    } catch (error) {
      if (error instanceof ApplyRefusal) throw error
      if (isPermissionError(error)) {
        await record({undo}).catch(() => {})
        const {reason, fix} = permissionRefusal(error, ctx)
        throw new ApplyRefusal(`${reason}, after ${undo.changed} keys of ${pattern}: the keys done are in the journal`, fix)
      }
      if (isConnectionFailure(error, session)) {
        const inFlight = undo.inFlight ? `; the ${undo.inFlight.keys.length} keys of the batch in flight are recorded as uncertain` : ''
        // The journal may not have the last range yet.
        await record({undo}).catch(() => {})
        // Journalled "interrupted", not rolled back now (Redis is gone): the next apply on this target undoes it first.
        throw new ChangeLeftUnfinished(`Redis went away after ${undo.changed} keys of ${pattern} (${describeRedisError(error)}): the keys done are in the journal${inFlight}; the next apply rolls them back first (or apply --rollback when it is back)`)
      }
      await record({undo}).catch(() => {})
      throw error
    } finally {
      await releaseLock(session, pattern, token)
    }
    undo.complete = cursor === '0' && !cutAtCap
    await record({undo})
    statements.add(`EVAL ${redisQuoted(SCRIPTS.release)} 1 ${redisQuoted(lockKeyOf(pattern))} <token>`)
    const notes = [`${undo.changed} keys of ${pattern} given a TTL of ${formatSeconds(ttl)}..${formatSeconds(ttlMax)}${skippedWithTtl ? `; ${skippedWithTtl} already had one (kept, NX)` : ''}`]
    if (!undo.complete) notes.push(`stopped at the cap of ${opts.maxKeys} keys (option ttlApplyMaxKeys): run apply again for the rest`)
    if (undo.overflow) notes.push(`${undo.overflow.count} keys past the undo cap are recorded as a count, a sample and their expiry range`)
    return {statements: statements.list(), before: {ttl: 'none (every key changed had no TTL: EXPIRE NX changes no other)', statsBefore, statsAtPlan: plan.details.statsAtPlan ?? null}, undo, notes}
  },

  async verify(plan, applied, session, ctx): Promise<Verification> {
    const undo = applied.undo
    if (!isUndo(undo)) return {ok: false, detail: 'no undo recorded: cannot tell which keys were changed'}
    const sample = undo.keys.length <= VERIFY_SAMPLE ? undo.keys
      : Array.from({length: VERIFY_SAMPLE}, (_, i) => undo.keys[Math.floor(i * undo.keys.length / VERIFY_SAMPLE)])
    const counts = {ours: 0, gone: 0, other: 0, none: 0, outOfRange: 0}
    if (sample.length > 0) {
      const replies = await session.redis.pipeline(sample.flatMap(([k]) => [['PEXPIRETIME', k], ['PTTL', k]] as Array<[string, string]>))
      sample.forEach(([, at], i) => {
        const expiresAt = Number(replies[2 * i][1])
        const pttl = Number(replies[2 * i + 1][1])
        if (expiresAt === at) {
          counts.ours++
          if (!(pttl > 0 && pttl <= undo.ttlMaxSeconds * 1000)) counts.outOfRange++
        } else if (expiresAt === -2) counts.gone++
        else if (expiresAt === -1) counts.none++
        else counts.other++
      })
    }
    const measurements: Record<string, unknown> = {sampled: sample.length, ...counts, changed: undo.changed}
    const problems: string[] = []
    if (sample.length > 0 && counts.none / sample.length > VERIFY_LOST_TTL_TOLERANCE) {
      problems.push(`${counts.none} of ${sample.length} sampled keys lost their TTL since (rewritten without one: the application must set it on every write)`)
    }
    if (counts.outOfRange > 0) problems.push(`${counts.outOfRange} keys carry a TTL outside ${undo.ttlSeconds}..${undo.ttlMaxSeconds} s`)
    let hit = ''
    // No default window: the keys only start to expire after the TTL set (the remedy's, far longer than a minute), so a
    // window right after the change says nothing of the hit rate unless a person asks for one.
    const windowMs = ctx.options.verifyWindowMs ?? 0
    if (windowMs > 0) {
      const before = applied.before as {statsBefore?: {hits: number; misses: number}; statsAtPlan?: {hits: number; misses: number} | null} | undefined
      const s0 = before?.statsAtPlan
      const s1 = before?.statsBefore
      let baseline: number | null = null
      let baselineBasis = ''
      if (s0 && s1 && (s1.hits - s0.hits) + (s1.misses - s0.misses) >= MIN_LOOKUPS) {
        baseline = (s1.hits - s0.hits) / ((s1.hits - s0.hits) + (s1.misses - s0.misses))
        baselineBasis = 'between plan and apply'
      } else if (s1 && s1.hits + s1.misses >= MIN_LOOKUPS) {
        baseline = s1.hits / (s1.hits + s1.misses)
        baselineBasis = 'since the server started (too few lookups between plan and apply)'
      }
      const w0 = await statsNow(session)
      await sleep(windowMs, ctx.signal)
      if (ctx.signal.aborted) throw new Error('verification interrupted')
      const w1 = await statsNow(session)
      const lookups = (w1.hits - w0.hits) + (w1.misses - w0.misses)
      measurements.hitRateWindowLookups = lookups
      if (baseline === null || lookups < MIN_LOOKUPS) {
        hit = `; hit rate not judged: ${lookups} lookups over the ${Math.round(windowMs / 1000)} s window${baseline === null ? ' and too few before' : ''} (at least ${MIN_LOOKUPS} needed)`
      } else {
        const after = (w1.hits - w0.hits) / lookups
        measurements.hitRateBefore = baseline
        measurements.hitRateAfter = after
        if (after < baseline - HIT_RATE_TOLERANCE) {
          problems.push(`the keyspace hit rate fell from ${(baseline * 100).toFixed(1)}% (${baselineBasis}) to ${(after * 100).toFixed(1)}% over the verify window (tolerance ${HIT_RATE_TOLERANCE * 100} points)`)
        } else hit = `; hit rate ${(after * 100).toFixed(1)}% over the window vs ${(baseline * 100).toFixed(1)}% before (${baselineBasis})`
      }
    }
    if (problems.length > 0) return {ok: false, detail: problems.join('; '), measurements}
    if (undo.changed === 0) return {ok: true, detail: `no key of ${plan.details.pattern} needed a TTL${hit}`, measurements}
    return {ok: true, measurements,
      detail: `${counts.ours} of ${sample.length} sampled changed keys carry the TTL set (${undo.ttlSeconds}..${undo.ttlMaxSeconds} s)`
        + `${counts.gone ? `, ${counts.gone} expired or deleted` : ''}${counts.other ? `, ${counts.other} re-set by the application` : ''}${counts.none ? `, ${counts.none} rewritten without TTL` : ''}${hit}`}
  },

  rollback: undoChange,
  recover: undoChange,
}
