import type {Advisor, AdvisorContext, AdvisorFinding} from '../core/advisor.js'
import {remedyId, type Proposed, type ProposedRemedy, type TtlRemedy} from '../core/remedies.js'
import type {Reading} from '../core/types.js'
import {policyEvicts, policyIsVolatile} from '../probes/redis/info-parse.js'
import {dataOf, readingsWhere} from '../core/readings.js'
import {isQueueData} from '../readings/queues.js'
import {configReading, infoReading, keysReading, type PatternStats} from '../readings/redis.js'
import {escapeGlob, patternMatches} from '../probes/redis/patterns.js'
import {shellWord} from '../core/shell.js'
import {queueFrameworkOf} from '../probes/redis/queue-keys.js'

export const TTL_BOUNDS = {minSeconds: 60, maxSeconds: 7 * 86_400}
/** TTLs are proposed in these steps: people recognise 15 min or 6 h, nobody wants 4,137 s. */
export const TTL_STEPS = [60, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 6 * 3600, 12 * 3600, 86_400, 2 * 86_400, 3 * 86_400, 7 * 86_400]
export const DEFAULT_TTL_WITHOUT_IDLE = 3600
export const JITTER = 0.1

/** Thresholds of the advisor, overridable per target through options. */
const DEFAULTS = {
  /** A pattern needs this many sampled keys before anything is said about it. */
  ttlMinKeys: 3,
  /** Share of a pattern's keys without TTL from which it is reported. */
  noTtlShare: 0.5,
  /** Share of judged keys that look unread for a write-only finding, and how many keys must be judged. */
  unreadShare: 0.8,
  unreadMinKeys: 5,
  /** Memory share (of the sample) from which a pattern finding is a warning rather than info. */
  warnMemoryShare: 0.05,
  /** Share of sampled memory in keys without TTL that makes evictions a finding. */
  evictionNoTtlShare: 0.2,
  /** Hit rate a proposed cache TTL aims for at the read interval the idle times show. */
  ttlTargetHitRate: 0.9,
  /** Longest a cache entry may live (s): a backfilled key's TTL (at most twice the proposed one) stays within it. */
  ttlStalenessSeconds: 3600,
}

function option(ctx: AdvisorContext, name: keyof typeof DEFAULTS): number {
  const raw = ctx.options[name]
  return raw === undefined || !Number.isFinite(Number(raw)) ? DEFAULTS[name] : Number(raw)
}

/** The smallest step at or above `seconds`, bounded to [60 s, 7 d]. */
export function roundTtl(seconds: number): number {
  const bounded = Math.min(Math.max(seconds, TTL_BOUNDS.minSeconds), TTL_BOUNDS.maxSeconds)
  return TTL_STEPS.find((s) => s >= bounded) ?? TTL_BOUNDS.maxSeconds
}

export function formatSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`
  if (seconds % 3600 === 0) return `${seconds / 3600}h`
  if (seconds % 60 === 0) return `${seconds / 60}min`
  return `${seconds}s`
}

/**
 * What a key pattern holds, which decides what may be said about its expiry. Only cache entries get a TTL
 * backfill: an EXPIRE counts down from now, so on sessions, tokens, locks, counters or queues it destroys live state.
 */
export type KeyClass = 'cache' | 'session' | 'lock' | 'rate-limit' | 'counter' | 'queue' | 'other'

/** Name segments (or words of one, split on '-' and '_') that say what a pattern holds. */
const NAME_CLASSES: Array<[KeyClass, string[]]> = [
  ['session', ['session', 'sessions', 'sess', 'token', 'tokens', 'auth', 'jwt', 'refresh', 'oauth', 'csrf', 'login', 'nonce', 'otp']],
  ['lock', ['lock', 'locks', 'mutex', 'lease', 'leases', 'semaphore', 'redlock']],
  ['rate-limit', ['ratelimit', 'ratelimiter', 'rate-limit', 'rate_limit', 'throttle', 'throttling', 'limiter', 'quota']],
  ['counter', ['counter', 'counters', 'count', 'hits', 'views', 'visits', 'seq', 'sequence', 'incr']],
  ['queue', ['stream', 'streams', 'queue', 'queues', 'jobs', 'outbox', 'inbox']],
  ['cache', ['cache', 'cached', 'memo', 'memoize']],
]

/** The class of a pattern and the rule that gave it (kept in the finding's evidence). First matching rule wins. */
export function classifyPattern(p: Pick<PatternStats, 'pattern' | 'types' | 'ttlSeconds' | 'idleSeconds' | 'freq' | 'queue'>, queuePrefixes: string[] = []):
  {keyClass: KeyClass; rule: string} {
  if (p.queue || queueFrameworkOf(p.pattern)) return {keyClass: 'queue', rule: `queue framework keys (${p.queue ?? queueFrameworkOf(p.pattern)})`}
  if (queuePrefixes.some((prefix) => patternMatches(p.pattern, `${prefix}:1`) || patternMatches(p.pattern, `${prefix}:wait`))) {
    return {keyClass: 'queue', rule: 'under a BullMQ queue prefix the queue probes found'}
  }
  const total = Object.values(p.types).reduce((a, b) => a + b, 0)
  const mainType = Object.entries(p.types).sort((a, b) => b[1] - a[1])[0]?.[0]
  if ((p.types.stream ?? 0) > 0) return {keyClass: 'queue', rule: 'type: stream'}
  const segments = p.pattern.toLowerCase().split(/[:/|.]/).filter((seg) => seg && seg !== '*')
  for (const [keyClass, names] of NAME_CLASSES) {
    for (const seg of segments) {
      const hit = names.includes(seg) ? seg : seg.split(/[-_]/).find((w) => names.includes(w))
      if (hit) return {keyClass, rule: `name: segment "${seg}"${hit === seg ? '' : ` (word "${hit}")`}`}
    }
  }
  // TTL habits: keys that carry TTLs of a minute or less are short-lived coordination (locks, windows), not a cache.
  if (p.ttlSeconds && p.ttlSeconds.max <= 60) return {keyClass: 'lock', rule: `ttl habit: the keys with a TTL expire within ${p.ttlSeconds.max}s`}
  if (mainType === 'list') return {keyClass: 'queue', rule: 'type: list (a list outside a known framework is taken for a queue)'}
  if (total > 0 && (mainType === 'string' || mainType === 'hash' || mainType === 'set' || mainType === 'zset')) {
    if (p.idleSeconds) return {keyClass: 'cache', rule: `access: ${mainType} values read again after writing (p50 idle ${p.idleSeconds.p50}s), no name hint: taken for a cache`}
    return {keyClass: 'cache', rule: `type: ${mainType} values, no name hint and no idle times: taken for a cache`}
  }
  return {keyClass: 'other', rule: `type: ${mainType ?? 'unknown'}, no name hint`}
}

/** Hit rate of a TTL t on keys read at rate r (Poisson reads, the entry refilled on a miss): r·t / (1 + r·t). */
export function hitRate(readsPerSecond: number, ttlSeconds: number): number {
  const x = readsPerSecond * ttlSeconds
  return x / (1 + x)
}

/** The TTL giving hit rate h at read rate r: t = h / (r·(1 − h)). */
export function ttlForHitRate(readsPerSecond: number, target: number): number {
  return target / (readsPerSecond * (1 - target))
}

/**
 * The TTL proposed for a cache pattern, and how it was derived (the remedy carries the method). The read interval
 * comes from the idle times: with reads at rate r per key the time since the last read is exponential, so the
 * median idle time is ln 2 / r. The TTL is the one that reaches the target hit rate, rounded to a step, and bounded
 * so that a backfilled key (TTL between t and 2t) never outlives the staleness budget.
 */
export function proposeTtl(p: Pick<PatternStats, 'idleSeconds' | 'ttlSeconds'>, opts: {targetHitRate?: number; stalenessSeconds?: number} = {}):
  {ttlSeconds: number; method: string; readsPerSecond: number | null; expectedHitRate: number | null} {
  const target = Math.min(Math.max(opts.targetHitRate ?? DEFAULTS.ttlTargetHitRate, 0.01), 0.999)
  const staleness = Math.max(opts.stalenessSeconds ?? DEFAULTS.ttlStalenessSeconds, 2)
  // Largest TTL whose backfill range (t..2t) stays within the budget: a step if one fits, else half the budget.
  const ceiling = [...TTL_STEPS].reverse().find((s) => 2 * s <= staleness) ?? Math.floor(staleness / 2)
  const bound = (t: number) => Math.min(roundTtl(t), ceiling)
  if (p.idleSeconds) {
    // Idle times are whole seconds: a median of 0 means "read within the last second".
    const medianIdle = Math.max(p.idleSeconds.p50, 0.5)
    const r = Math.LN2 / medianIdle
    const wanted = ttlForHitRate(r, target)
    const ttl = bound(wanted)
    const h = hitRate(r, ttl)
    return {ttlSeconds: ttl, readsPerSecond: r, expectedHitRate: h,
      method: `reads every ~${Math.round(1 / r)}s per key (median idle ${p.idleSeconds.p50}s = ln2/r); a ${share(target)} hit rate needs t = h/(r(1-h)) = ${Math.round(wanted)}s,`
        + ` ${ttl < roundTtl(wanted) ? `capped at ${formatSeconds(ttl)} by the staleness budget of ${staleness}s (backfilled keys live up to 2t)` : `rounded to ${formatSeconds(ttl)}`}: expected hit rate r·t/(1+r·t) = ${share(h)}`}
  }
  if (p.ttlSeconds) {
    const ttl = bound(p.ttlSeconds.max)
    return {ttlSeconds: ttl, readsPerSecond: null, expectedHitRate: null,
      method: `no idle times (LFU policy or OBJECT refused): the longest TTL already used in this pattern (${p.ttlSeconds.max}s), rounded and within the staleness budget; hit rate unknown`}
  }
  const ttl = bound(DEFAULT_TTL_WITHOUT_IDLE)
  return {ttlSeconds: ttl, readsPerSecond: null, expectedHitRate: null,
    method: `no idle times (LFU policy or OBJECT refused) and no TTL in use: a default of ${formatSeconds(ttl)} within the staleness budget; hit rate unknown, adjust to the data's staleness budget`}
}

/**
 * A key as redis-cli prints it outside raw mode (sdscatrepr): printable ASCII as is, \\ and \" escaped, control
 * and non-ASCII bytes as \n, \xHH... The server's inline-command parser (sdssplitargs) reads this form back to the
 * same bytes, so a key travels from SCAN to EXPIRE as one line of ASCII whatever it holds, newlines included.
 */
export function redisQuoted(text: string): string {
  let out = '"'
  for (const b of Buffer.from(text, 'utf8')) {
    switch (b) {
      case 0x5c: out += '\\\\'; break
      case 0x22: out += '\\"'; break
      case 0x0a: out += '\\n'; break
      case 0x0d: out += '\\r'; break
      case 0x09: out += '\\t'; break
      case 0x07: out += '\\a'; break
      case 0x08: out += '\\b'; break
      default: out += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
    }
  }
  return `${out}"`
}

/**
 * A pattern as keyPattern (src/probes/redis/patterns.ts) makes it: text, and wildcards that each stand for a whole
 * ':', '/' or '|'-separated segment, or a whole '.'-separated part of one. Any other '*' (in "a*b", "**") is a
 * character of the keys themselves. A segment that is exactly '*' reads as a wildcard even when some key holds a
 * literal '*' there: keyPattern gives both the same pattern, so both belong to it.
 */
type PatternToken = {text: string} | {wildcard: 'segment' | 'part'}

function patternTokens(pattern: string): PatternToken[] {
  const tokens: PatternToken[] = []
  const text = (t: string) => {
    const last = tokens[tokens.length - 1]
    if (last && 'text' in last) last.text += t
    else if (t) tokens.push({text: t})
  }
  pattern.split(/([:/|])/).forEach((piece, i) => {
    if (i % 2 === 1) text(piece)
    else if (piece === '*') tokens.push({wildcard: 'segment'})
    else if (piece.includes('.')) {
      piece.split('.').forEach((part, j) => {
        if (j > 0) text('.')
        if (part === '*') tokens.push({wildcard: 'part'})
        else text(part)
      })
    } else text(piece)
  })
  return tokens
}

/** The SCAN MATCH glob of a pattern: its text with *?[]\ escaped, each wildcard a '*'. */
export function patternScanGlob(pattern: string): string {
  return patternTokens(pattern).map((t) => ('text' in t ? escapeGlob(t.text) : '*')).join('')
}

/**
 * keyPattern (src/probes/redis/patterns.ts) in awk, over a key as redis-cli quotes it, so that the backfill keeps
 * exactly the keys whose pattern is the finding's: a glob cannot say "a segment that looks like an identifier"
 * (session:* would also take session:cart and session:1:meta). It works on the quoted text without decoding it:
 * separators, '.', '@', digits and ASCII letters are never escaped; an escape counts as one character that is none
 * of those, and lengths are counted as JavaScript counts them (UTF-16 units: UTF-8 lead bytes, a 4-byte one twice).
 * POSIX awk only (gawk, mawk, BSD awk): no intervals, no gawk extensions. test/unit/redis/expire-command.test.ts
 * checks it against keyPattern itself, so a change to one without the other fails there.
 */
export const AWK_KEY_PATTERN = [
  // scan(s): P = s with each escape as "#", N = its length in UTF-16 units.
  'function hexv(h){return (index("0123456789abcdef",substr(h,1,1))-1)*16+index("0123456789abcdef",substr(h,2,1))-1}',
  'function scan(s,  i,c,h){P="";N=0;for(i=1;i<=length(s);i++){c=substr(s,i,1);if(c!="\\\\"){P=P c;N++;continue};c=substr(s,++i,1);P=P "#";'
    + 'if(c=="x"){h=hexv(substr(s,i+1,2));i+=2;if(h<128||(h>=192&&h<240))N++;else if(h>=240)N+=2}else N++}}',
  'function numeric(p){return p~/^[-+]?[0-9]+([.,_-][0-9]+)*$/}',
  // isVariableSegment: digits, UUIDs, ISO dates, short-prefixed numbers, hex hashes, e-mails, long or mixed tokens.
  'function variable(s,  p,d,l){if(s==""||s=="*")return 0;scan(s);p=P;if(numeric(p))return 1;'
    + 'if(p~/^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-?[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-?[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-?[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-?[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/)return 1;'
    + 'if(p~/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/)return 1;'
    + 'if(p~/^[a-zA-Z]([a-zA-Z][a-zA-Z]?)?[-_]?[0-9][0-9][0-9]+$/)return 1;'
    + 'd=(p~/[0-9]/);l=(p~/[a-zA-Z]/);'
    + 'if(d&&p~/^(0[xX])?[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]+$/)return 1;'
    + 'if(index(p,"@"))return 1;if(N>=20&&p!~/^[a-zA-Z_-]+$/)return 1;if(N>=8&&d&&l)return 1;return N>=32}',
  // A ':', '/' or '|' segment: with no '.', all or nothing; with dots, an e-mail or number is one '*', else per part.
  'function seg(s,  n,a,i,o){if(!index(s,"."))return variable(s)?"*":s;scan(s);if(index(s,"@")||numeric(P))return "*";'
    + 'n=split(s,a,/\\./);o="";for(i=1;i<=n;i++)o=o (i>1?".":"") (variable(a[i])?"*":a[i]);return o}',
  'function kp(k,  o){o="";while(match(k,/[:\\/|]/)){o=o seg(substr(k,1,RSTART-1)) substr(k,RSTART,1);k=substr(k,RSTART+1)};return o seg(k)}',
].join(' ')

/** An awk string literal holding `text` (printable ASCII, as redisQuoted makes it). */
function awkString(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`
}

/**
 * A shell pipeline that sets the TTL with ±jitter on every key of the pattern and on no other key, without touching
 * keys that already have one (EXPIRE ... NX, Redis 7.0+). SCAN-based, as gentle as the probe; the glob narrows the
 * scan on the server and awk keeps only the keys whose pattern is this one (AWK_KEY_PATTERN). redis-cli prints each
 * key quoted (--no-raw), and awk writes the quoted form into inline EXPIRE commands, which the server unquotes to
 * the very same bytes: no key is split at a newline, merged or re-globbed on the way. --quoted-pattern needs
 * redis-cli 6.2 or later; an older one refuses it or prints keys unquoted, which the filter drops, so nothing is
 * touched. Never run by chokepoint itself.
 */
export function expireCommand(pattern: string, ttlSeconds: number, jitter: number, nx: boolean): string {
  if (!Number.isSafeInteger(ttlSeconds) || !(jitter >= 0 && jitter < 1)) throw new Error(`expireCommand: bad TTL ${ttlSeconds} or jitter ${jitter}`)
  const quoted = redisQuoted(pattern)
  const awk = `${AWK_KEY_PATTERN} BEGIN{srand()} /^".*"$/ && kp(substr($0,2,length($0)-2))==${awkString(quoted.slice(1, -1))}`
    + ` {printf "EXPIRE %s %d${nx ? ' NX' : ''}\\r\\n", $0, int(ttl*(1-j+2*j*rand()))}`
  return `redis-cli -u "$REDIS_URL" --no-raw --scan --quoted-pattern ${shellWord(redisQuoted(patternScanGlob(pattern)))}`
    + ` | LC_ALL=C awk -v ttl=${ttlSeconds} -v j=${jitter} ${shellWord(awk)} | redis-cli -u "$REDIS_URL" --pipe`
}

/**
 * Key prefixes of the queues the queue probes found, e.g. "app-bull:emails". A BullMQ queue under a custom prefix
 * keeps its job hashes at <prefix>:<queue>:<id>, which name-based detection cannot tell from cache keys.
 */
function queueKeyPrefixes(readings: Reading[]): string[] {
  const prefixes: string[] = []
  for (const {data} of readingsWhere(readings, isQueueData)) {
    for (const q of data.queues) {
      const keyPrefix = (q.details as {keyPrefix?: unknown} | undefined)?.keyPrefix
      if (typeof keyPrefix === 'string') prefixes.push(keyPrefix)
    }
  }
  return prefixes
}

function isQueuePattern(p: PatternStats, queuePrefixes: string[] = []): boolean {
  return classifyPattern(p, queuePrefixes).keyClass === 'queue'
}

function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`
  return `${n} B`
}

/** Advice for patterns that must not get an EXPIRE backfill: what the application should do instead, no command. */
const ADVICE: Record<Exclude<KeyClass, 'cache' | 'queue' | 'counter'>, (pattern: string) => {summary: string; sliding?: boolean; setting?: string}> = {
  session: (pattern) => ({
    summary: `Give ${pattern} a sliding expiry set by the application: EXPIRE (or SET ... EX) with the session lifetime on each write and each access,`
      + ' the lifetime being an application setting (e.g. 30 min idle). No backfill: idle time is the time since the last use, but EXPIRE counts down'
      + ' from now, so a TTL derived from it on live keys logs out every active session when it runs out; keys already there get the expiry on their next use',
    sliding: true,
    setting: 'session lifetime (application setting, renewed on each access)',
  }),
  lock: (pattern) => ({
    summary: `Acquire ${pattern} with SET key token NX PX <lease> so a crashed holder's lock expires; never EXPIRE held locks from outside (a backfill could release a lock still in use)`,
    setting: 'lock lease (application setting)',
  }),
  'rate-limit': (pattern) => ({
    summary: `Set the window's expiry when ${pattern} is created (INCR then EXPIRE ... NX in one MULTI); a backfill from outside would reset or stretch live windows`,
    setting: 'rate-limit window (application setting)',
  }),
  other: (pattern) => ({
    summary: `Decide how long ${pattern} must live and have the application set that TTL on write; not a recognised cache, so no backfill is proposed`,
    setting: 'lifetime of this data (application setting)',
  }),
}

function share(n: number): string {
  return `${Math.round(n * 100)}%`
}

/**
 * Reasons over the key sample: patterns without TTL (classified first: a cache gets a TTL from its read interval and
 * a target hit rate, sessions, locks and rate limiters advice for the application, counters and queues nothing),
 * patterns written and never read, evictions that hit TTL'd keys because TTL-less keys hold the memory, and queue
 * keys in a Redis that may evict them. Works from a snapshot alone; proposes an EXPIRE backfill on cache patterns only.
 */
export const ttlAdvisor: Advisor = {
  id: 'ttl',
  scope: 'redis',
  description: 'Per-pattern TTL, idleness and eviction analysis of a Redis key sample; queue keys under evicting policies',

  async advise(ctx) {
    const target = ctx.target?.name
    const sample = dataOf(ctx.readings, keysReading)
    if (!target || !sample) return []
    const info = dataOf(ctx.readings, infoReading)
    const settings = dataOf(ctx.readings, configReading)?.settings ?? {}
    const policy = settings['maxmemory-policy'] ?? info?.memory?.policy ?? sample.policy ?? undefined
    const maxmemory = settings.maxmemory !== undefined ? Number(settings.maxmemory) : info?.memory?.maxmemory
    const major = Number(/^(\d+)/.exec(info?.version ?? '')?.[1] ?? 7)
    const findings: AdvisorFinding[] = []
    const queuePrefixes = queueKeyPrefixes(ctx.readings)
    // Per-pattern TTL remedies by pattern, so the eviction summary can name them by id.
    const ttlRemedyIds = new Map<string, string>()

    // 1. Queue keys under a policy that evicts.
    const frameworks = Object.entries(sample.queues ?? {}).filter(([, v]) => v && v.keys > 0)
    if (frameworks.length > 0 && policyEvicts(policy)) {
      const bounded = (maxmemory ?? 0) > 0
      const cachePatterns = sample.patterns.filter((p) => !isQueuePattern(p, queuePrefixes)).length
      const remedies: ProposedRemedy[] = [{
        kind: 'config',
        summary: 'Run the queues on their own Redis with maxmemory-policy noeviction, and the cache on another with allkeys-lfu or allkeys-lru',
        setting: 'maxmemory-policy',
        queueInstance: 'noeviction',
        cacheInstance: 'allkeys-lfu',
      }]
      if (cachePatterns === 0) {
        remedies.push({kind: 'config', summary: 'Only queue keys were sampled here: set maxmemory-policy noeviction on this instance',
          setting: 'maxmemory-policy', value: 'noeviction', command: 'redis-cli -u "$REDIS_URL" CONFIG SET maxmemory-policy noeviction'})
      }
      findings.push({
        rule: 'cache/queue-keys-evictable',
        severity: bounded ? 'critical' : 'warning',
        target,
        subject: target,
        metric: 'redis.keys',
        value: frameworks.reduce((s, [, v]) => s + v!.keys, 0),
        message: `${target} holds ${frameworks.map(([f, v]) => `${f}${v!.queues.length ? ` (${v!.queues.slice(0, 5).join(', ')})` : ''}`).join(', ')} queue keys but maxmemory-policy is ${policy}`
          + (bounded ? ': under memory pressure Redis may evict jobs' : ' (maxmemory is 0, so nothing is evicted until a limit is set)'),
        evidence: {frameworks: frameworks.map(([f]) => f).join(', '), queues: Object.fromEntries(frameworks), policy, maxmemory: maxmemory ?? null, cachePatterns},
        remedies,
      })
    }

    const rememberTtl = (remedy: Proposed<TtlRemedy> & {pattern: string}) => {
      ttlRemedyIds.set(remedy.pattern, remedyId(remedy, target))
      return remedy
    }

    // 2 and 3. Per-pattern: no TTL, written and never read. Each pattern is classified first: only cache entries get
    // a TTL backfill, since EXPIRE counts down from now and would end live sessions, locks, counters and queues.
    const minKeys = option(ctx, 'ttlMinKeys')
    const targetHitRate = option(ctx, 'ttlTargetHitRate')
    const stalenessSeconds = option(ctx, 'ttlStalenessSeconds')
    for (const p of sample.patterns) {
      const {keyClass, rule: classRule} = classifyPattern(p, queuePrefixes)
      if (keyClass === 'queue' || p.keys < minKeys) continue
      const memoryShare = p.memoryShare ?? 0
      if (p.noTtlShare >= option(ctx, 'noTtlShare') && keyClass !== 'counter') {
        const keysAffected = Math.round(p.noTtl * sample.scale)
        const bytesAffected = p.noTtlBytes === null ? null : Math.round(p.noTtlBytes * sample.scale)
        const nx = major >= 7
        const affects = `~${keysAffected} keys${bytesAffected === null ? '' : `, ~${formatBytes(bytesAffected)}`}`
        let remedy: Proposed<TtlRemedy> & {pattern: string}
        if (keyClass === 'cache') {
          const {ttlSeconds, method, readsPerSecond, expectedHitRate} = proposeTtl(p, {targetHitRate, stalenessSeconds})
          const hit = expectedHitRate === null ? 'hit rate unknown (no idle times)' : `expected hit rate ${share(expectedHitRate)} at reads every ~${Math.round(1 / readsPerSecond!)}s per key`
          remedy = {
            kind: 'ttl',
            summary: `Expire ${p.pattern} after ${formatSeconds(ttlSeconds)} (${hit}); set it on every write.`
              + (nx ? ` The command backfills ${affects} without a TTL, each getting a random TTL between ${formatSeconds(ttlSeconds)} and ${formatSeconds(2 * ttlSeconds)} (EXPIRE NX: keys with a TTL keep theirs)${sample.mode === 'cluster' ? '; run it against each primary' : ''}`
                : ` No backfill command: it needs EXPIRE NX (Redis 7) so as not to overwrite TTLs set meanwhile; ${affects} have none`),
            pattern: p.pattern,
            ttlSeconds,
            ttlMaxSeconds: 2 * ttlSeconds,
            keysAffected,
            ...(expectedHitRate === null ? {} : {expectedHitRate: Math.round(expectedHitRate * 1000) / 1000}),
            // Centre 1.5t, jitter 1/3: each key gets a TTL in [t, 2t), so a backfilled pattern does not expire at once.
            ...(nx ? {command: expireCommand(p.pattern, Math.round(1.5 * ttlSeconds), 1 / 3, true)} : {}),
            estimate: {method, bytesAffected, readsPerSecond, targetHitRate, stalenessSeconds},
          }
        } else {
          remedy = {
            kind: 'ttl',
            pattern: p.pattern,
            keysAffected,
            estimate: {bytesAffected, method: `classified as ${keyClass} (${classRule}): no EXPIRE backfill, since EXPIRE counts down from now, not from the last use`},
            ...ADVICE[keyClass](p.pattern),
          }
        }
        findings.push({
          rule: 'cache/no-ttl-pattern',
          severity: memoryShare >= option(ctx, 'warnMemoryShare') || keysAffected >= 1000 ? 'warning' : 'info',
          target,
          subject: p.pattern,
          metric: 'redis.keys.no_ttl_share',
          value: p.noTtlShare,
          message: `${p.pattern} (${keyClass}): ${share(p.noTtlShare)} of ~${p.estimatedKeys} keys have no TTL, holding ${p.memoryShare === null ? 'an unknown share' : share(memoryShare)} of sampled memory`
            + (p.idleSeconds ? `; p50/p90 idle ${p.idleSeconds.p50}s/${p.idleSeconds.p90}s` : ''),
          evidence: {pattern: p.pattern, keyClass, classifiedBy: classRule, sampledKeys: p.keys, estimatedKeys: p.estimatedKeys, noTtl: p.noTtl, noTtlShare: p.noTtlShare,
            memoryShare: p.memoryShare, bytes: p.bytes, estimatedBytes: p.estimatedBytes, ttlBuckets: p.ttlBuckets, idleSeconds: p.idleSeconds,
            idleBuckets: p.idleBuckets, freq: p.freq, types: p.types, policy: policy ?? null,
            note: 'hit rate per pattern needs client-side instrumentation; Redis counts hits server-wide only'},
          remedies: [keyClass === 'cache' ? rememberTtl(remedy) : remedy],
        })
      }
      const unreadShare = p.unread.eligible > 0 ? p.unread.unread / p.unread.eligible : 0
      if (p.unread.eligible >= option(ctx, 'unreadMinKeys') && unreadShare >= option(ctx, 'unreadShare')) {
        const lfuOnly = p.unread.basis.every((b) => b.startsWith('LFU'))
        findings.push({
          rule: 'cache/write-only-pattern',
          severity: !lfuOnly && memoryShare >= option(ctx, 'warnMemoryShare') ? 'warning' : 'info',
          target,
          subject: p.pattern,
          metric: 'redis.keys.unread_share',
          value: unreadShare,
          message: `${p.pattern}: ${share(unreadShare)} of ${p.unread.eligible} sampled keys look unread since written (${p.unread.basis.join('; ')}), ${p.memoryShare === null ? 'unknown share' : share(memoryShare)} of sampled memory`,
          evidence: {pattern: p.pattern, eligible: p.unread.eligible, unread: p.unread.unread, unreadShare, basis: p.unread.basis.join('; '),
            memoryShare: p.memoryShare, estimatedKeys: p.estimatedKeys, idleSeconds: p.idleSeconds, ttlSeconds: p.ttlSeconds, freq: p.freq,
            limits: 'idle time is reset by reads and writes; age is estimated from the pattern\'s longest remaining TTL (assumes one fixed TTL per pattern)'},
          remedies: [{
            kind: 'cache-aside',
            summary: `Stop writing ${p.pattern} ahead of reads (populate on a miss instead), or remove it if nothing reads it`,
            pattern: p.pattern,
            estimate: {bytesReclaimable: p.estimatedBytes},
          }],
        })
      }
    }

    // 4. Evictions while keys without TTL hold the memory.
    const evicted = info?.deltas?.evicted_keys ?? 0
    const noTtlMemoryShare = sample.sampledBytes ? (sample.noTtlBytes ?? 0) / sample.sampledBytes : null
    if (evicted > 0 && noTtlMemoryShare !== null && noTtlMemoryShare >= option(ctx, 'evictionNoTtlShare')) {
      const volatile = policyIsVolatile(policy)
      const topNoTtl = sample.patterns.filter((p) => classifyPattern(p, queuePrefixes).keyClass === 'cache' && (p.noTtlBytes ?? 0) > 0)
        .sort((a, b) => (b.noTtlBytes ?? 0) - (a.noTtlBytes ?? 0)).slice(0, 5).map((p) => p.pattern)
      findings.push({
        rule: 'cache/evictions-without-ttl',
        severity: volatile && noTtlMemoryShare >= 0.5 ? 'critical' : 'warning',
        target,
        subject: target,
        metric: 'cache.evictions',
        value: evicted,
        message: `${target} evicted ${evicted} keys under ${policy ?? 'an unknown policy'} while ${share(noTtlMemoryShare)} of sampled memory is in keys without TTL`
          + (volatile ? ': those can never be evicted, so every eviction hit a TTL\'d key' : ': memory comes back only through eviction'),
        evidence: {evictedKeys: evicted, window: info?.window ?? null, policy: policy ?? null, noTtlMemoryShare, topNoTtlPatterns: topNoTtl,
          consequence: volatile ? ': those can never be evicted, so every eviction hit a TTL\'d key' : ': memory comes back only through eviction'},
        remedies: [{
          kind: 'ttl',
          summary: `Set TTLs on the no-expiry patterns${topNoTtl.length > 0 ? ` (${topNoTtl.join(', ')})` : ''} before adding memory`,
          patterns: topNoTtl,
          refs: topNoTtl.flatMap((pattern) => ttlRemedyIds.get(pattern) ?? []),
        }],
      })
    }
    return findings
  },
}
