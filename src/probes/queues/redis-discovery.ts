/**
 * Options and bounded key discovery shared by the Redis-backed queue probes (BullMQ, Sidekiq, Celery).
 * Discovery uses SCAN with COUNT <= 100 and a short pause between calls, never KEYS, and stops at a cap of
 * calls so that a Redis with millions of keys costs a known, bounded amount.
 */
import {ProbeSkip, errorMessage} from '../../core/errors.js'
import type {RedisSession} from '../../drivers/redis.js'
import {sleep} from '../../core/probe.js'

export interface RedisQueueOptions {
  /** At most this many queues are read per framework; the rest are counted as truncated. */
  maxQueues: number
  /** SCAN calls allowed per discovery pass (each examines about `scanCount` keys). */
  maxScanCalls: number
  scanCount: number
  scanPauseMs: number
  /** BullMQ key prefixes (the `prefix` queue option), default ['bull']. */
  bullmqPrefixes: string[]
  /** Sidekiq key namespace (redis-namespace), '' for none. */
  sidekiqNamespace: string
  /** Celery queue names to read in addition to those discovered from `_kombu.binding.*`. */
  celeryQueues: string[]
  /** How many recent failures to sample for dead-letter triage. */
  failureSamples: number
  /**
   * The lookback of failed-job growth: failures whose own timestamps (BullMQ failed zset scores, Sidekiq dead scores
   * and retry jobs' retried_at/failed_at) fall in the last this many seconds, whatever the sampling window.
   */
  recentFailureSeconds: number
  /** Sidekiq retry jobs read at most (the soonest due, ZRANGE by rank) to date their latest failure. */
  retryScanLimit: number
  /** BullMQ workers are visible as named connections in CLIENT LIST; set false where CLIENT is not allowed. */
  clientList: boolean
}

const DEFAULTS: RedisQueueOptions = {
  maxQueues: 1000,
  maxScanCalls: 1000,
  scanCount: 100,
  scanPauseMs: 1,
  bullmqPrefixes: ['bull'],
  sidekiqNamespace: '',
  celeryQueues: [],
  failureSamples: 3,
  recentFailureSeconds: 900,
  retryScanLimit: 500,
  clientList: true,
}

/** Reads `options.queues` of a Redis target (config file: targets[].options.queues or options.redis.queues). */
export function redisQueueOptions(options: Record<string, unknown>): RedisQueueOptions {
  const raw = (options.queues && typeof options.queues === 'object' ? options.queues : {}) as Partial<RedisQueueOptions>
  const merged = {...DEFAULTS, ...raw}
  // COUNT above 100 would make one SCAN call long enough to be felt by other clients.
  merged.scanCount = Math.min(100, Math.max(1, Number(merged.scanCount) || DEFAULTS.scanCount))
  merged.maxQueues = Math.max(1, Number(merged.maxQueues) || DEFAULTS.maxQueues)
  // ZRANGE 0 -1 would read the whole set: at least one.
  merged.retryScanLimit = Math.max(1, Math.floor(Number(merged.retryScanLimit) || DEFAULTS.retryScanLimit))
  return merged
}


export interface ScanResult {
  keys: string[]
  /** False when the cap of calls stopped the scan before the cursor came back to 0. */
  complete: boolean
  calls: number
}

type Command = [string, ...Array<string | number>]

/** Commands whose ACL name includes the subcommand (`+client|list`, `+object|idletime`). */
const WITH_SUBCOMMAND = new Set(['client', 'cluster', 'config', 'memory', 'object', 'xinfo'])

/** The ACL name of a command (`llen`, `client|list`) and how it is shown (`LLEN`, `CLIENT LIST`). */
export function aclCommand(command: ReadonlyArray<string | number>): {acl: string; display: string} {
  const name = String(command[0]).toLowerCase()
  if (WITH_SUBCOMMAND.has(name) && command.length > 1) {
    const sub = String(command[1]).toLowerCase()
    return {acl: `${name}|${sub}`, display: `${name} ${sub}`.toUpperCase()}
  }
  return {acl: name, display: name.toUpperCase()}
}

/**
 * A Redis refusal turned into a skip reason, or undefined for any other error. NOPERM for the command: "LLEN is not
 * permitted for this user: add +llen to its ACL"; NOPERM for a key: the key pattern to add; unknown command: renamed
 * or disabled; MOVED/ASK: the key lives on another cluster node (queue probes read the node in the URL only).
 */
export function refusalReason(error: unknown, command: ReadonlyArray<string | number>): string | undefined {
  const message = errorMessage(error).split('\n')[0]
  const {acl, display} = aclCommand(command)
  if (/^NOPERM/i.test(message)) {
    if (/\bkeys?\b/i.test(message)) return `${display} on key '${String(command[1])}' is not permitted for this user: add a key pattern covering it (e.g. ~*) to its ACL`
    return `${display} is not permitted for this user: add +${acl} to its ACL`
  }
  if (/unknown command|unknown subcommand/i.test(message)) return `${display} is disabled or renamed on this server (${message})`
  if (/^(MOVED|ASK) /.test(message)) return `key '${String(command[1])}' lives on another cluster node (${message}): queue probes read the node in the URL only`
  return undefined
}

/** session.send, with a refusal (ACL, renamed command, other cluster node) turned into ProbeSkip. */
export async function sendOrSkip<T>(session: RedisSession, command: string, ...args: Array<string | number>): Promise<T> {
  try {
    return await session.send<T>(command, ...args)
  } catch (error) {
    const reason = refusalReason(error, [command, ...args])
    throw reason ? new ProbeSkip(reason) : error
  }
}

/**
 * Throws ProbeSkip when the server refused any command of a pipeline for permission reasons, naming every refused
 * command and the ACL to add; other per-command errors (WRONGTYPE ...) stay with their entry. Without this a
 * refused LLEN would read as an empty queue.
 */
export function assertPermitted(commands: Command[], replies: Array<[Error | null, unknown]>): void {
  const refused = new Map<string, {display: string; reason: string; plain: boolean}>()
  commands.forEach((command, i) => {
    const error = replies[i]?.[0]
    if (!error || /^(MOVED|ASK) /.test(error.message)) return
    const reason = refusalReason(error, command)
    if (!reason) return
    const {acl, display} = aclCommand(command)
    if (!refused.has(acl)) refused.set(acl, {display, reason, plain: /^NOPERM/i.test(error.message) && !/\bkeys?\b/i.test(error.message)})
  })
  if (refused.size === 0) return
  const all = [...refused]
  if (all.every(([, r]) => r.plain)) {
    const names = all.map(([, r]) => r.display)
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
    throw new ProbeSkip(`${list} ${names.length === 1 ? 'is' : 'are'} not permitted for this user: add ${all.map(([acl]) => `+${acl}`).join(' ')} to its ACL`)
  }
  throw new ProbeSkip(all.map(([, r]) => r.reason).join('; '))
}

/** SCAN MATCH pattern, bounded by calls, pausing between calls; duplicates (SCAN may repeat keys) removed. */
export async function scanKeys(session: RedisSession, pattern: string, opts: RedisQueueOptions, type?: string): Promise<ScanResult> {
  const keys = new Set<string>()
  let cursor = '0'
  let calls = 0
  do {
    if (calls > 0 && opts.scanPauseMs > 0) await sleep(opts.scanPauseMs)
    const args: Array<string | number> = [cursor, 'MATCH', pattern, 'COUNT', opts.scanCount]
    if (type) args.push('TYPE', type)
    const [next, batch] = await sendOrSkip<[string, string[]]>(session, 'SCAN', ...args)
    calls++
    cursor = String(next)
    for (const k of batch) keys.add(String(k))
  } while (cursor !== '0' && calls < opts.maxScanCalls)
  return {keys: [...keys], complete: cursor === '0', calls}
}

/** Escapes glob metacharacters so a prefix or queue name is matched literally by SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/** The value of a pipeline entry, or undefined when that command failed (e.g. WRONGTYPE). */
export function pipelineValue<T>(entry: [Error | null, unknown] | undefined): T | undefined {
  if (!entry || entry[0]) return undefined
  return entry[1] as T
}

export function toNumber(value: unknown): number {
  const n = Number(value)
  return Number.isFinite(n) ? n : 0
}

/** The database number of a redis:// URL, for inspect commands a person can paste (redis-cli -n N). */
export function redisDbFlag(url: string): string {
  try {
    const db = new URL(url).pathname.replace(/^\//, '')
    return /^\d+$/.test(db) && db !== '0' ? ` -n ${db}` : ''
  } catch {
    return ''
  }
}

/** Quotes a key for a shell command line. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}
