import type {Advisor, AdvisorContext, AdvisorFinding} from '../core/advisor.js'
import {remedyId, type Proposed, type ProposedRemedy, type TtlRemedy} from '../core/remedies.js'
import type {Reading} from '../core/types.js'
import {policyEvicts, policyIsVolatile} from '../probes/redis/info-parse.js'
import {dataOf, readingsOfAny} from '../core/readings.js'
import {queueReadings} from '../readings/queues.js'
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

/** The TTL proposed for a pattern, and how it was derived (the remedy carries the method). */
export function proposeTtl(p: PatternStats): {ttlSeconds: number; method: string} {
  if (p.idleSeconds) {
    const p90 = p.idleSeconds.p90
    const ttl = roundTtl(p90)
    return {ttlSeconds: ttl, method: `p90 idle time of the sampled keys (${p90}s) rounded up to ${formatSeconds(ttl)}, bounded to 1min..7d`}
  }
  if (p.ttlSeconds) {
    const ttl = roundTtl(p.ttlSeconds.max)
    return {ttlSeconds: ttl, method: `no idle times (LFU policy or OBJECT refused): the longest TTL already used in this pattern (${p.ttlSeconds.max}s), rounded`}
  }
  return {ttlSeconds: DEFAULT_TTL_WITHOUT_IDLE, method: 'no idle times (LFU policy or OBJECT refused) and no TTL in use: a default of 1h; adjust to the data\'s staleness budget'}
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
  for (const {data} of readingsOfAny(readings, queueReadings)) {
    for (const q of data.queues) {
      const keyPrefix = (q.details as {keyPrefix?: unknown} | undefined)?.keyPrefix
      if (typeof keyPrefix === 'string') prefixes.push(keyPrefix)
    }
  }
  return prefixes
}

function isQueuePattern(p: PatternStats, queuePrefixes: string[] = []): boolean {
  if (p.queue || queueFrameworkOf(p.pattern)) return true
  return queuePrefixes.some((prefix) => patternMatches(p.pattern, `${prefix}:1`) || patternMatches(p.pattern, `${prefix}:wait`))
}

function share(n: number): string {
  return `${Math.round(n * 100)}%`
}

/**
 * Reasons over the key sample: patterns without TTL (proposes a TTL from observed idle times), patterns written
 * and never read, evictions that hit TTL'd keys because TTL-less keys hold the memory, and queue keys in a Redis
 * that may evict them. Works from a snapshot alone; never proposes a TTL on queue keys.
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

    // 2 and 3. Per-pattern: no TTL, written and never read.
    const minKeys = option(ctx, 'ttlMinKeys')
    for (const p of sample.patterns) {
      if (isQueuePattern(p, queuePrefixes) || p.keys < minKeys) continue
      const memoryShare = p.memoryShare ?? 0
      if (p.noTtlShare >= option(ctx, 'noTtlShare')) {
        const {ttlSeconds, method} = proposeTtl(p)
        const keysAffected = Math.round(p.noTtl * sample.scale)
        const nx = major >= 7
        findings.push({
          rule: 'cache/no-ttl-pattern',
          severity: memoryShare >= option(ctx, 'warnMemoryShare') || keysAffected >= 1000 ? 'warning' : 'info',
          target,
          subject: p.pattern,
          metric: 'redis.keys.no_ttl_share',
          value: p.noTtlShare,
          message: `${p.pattern}: ${share(p.noTtlShare)} of ~${p.estimatedKeys} keys have no TTL, holding ${p.memoryShare === null ? 'an unknown share' : share(memoryShare)} of sampled memory`
            + (p.idleSeconds ? `; p50/p90 idle ${p.idleSeconds.p50}s/${p.idleSeconds.p90}s` : ''),
          evidence: {pattern: p.pattern, sampledKeys: p.keys, estimatedKeys: p.estimatedKeys, noTtl: p.noTtl, noTtlShare: p.noTtlShare,
            memoryShare: p.memoryShare, bytes: p.bytes, estimatedBytes: p.estimatedBytes, ttlBuckets: p.ttlBuckets, idleSeconds: p.idleSeconds,
            idleBuckets: p.idleBuckets, freq: p.freq, types: p.types, policy: policy ?? null,
            note: 'hit rate per pattern needs client-side instrumentation; Redis counts hits server-wide only'},
          remedies: [rememberTtl({
            kind: 'ttl',
            summary: `Expire ${p.pattern} after ${formatSeconds(ttlSeconds)} ±${JITTER * 100}% (set it on every write; the command backfills existing keys${nx ? '' : ', overwriting TTLs set meanwhile (EXPIRE NX needs Redis 7)'}${sample.mode === 'cluster' ? '; run it against each primary' : ''})`,
            pattern: p.pattern,
            ttlSeconds,
            jitter: JITTER,
            keysAffected,
            command: expireCommand(p.pattern, ttlSeconds, JITTER, nx),
            estimate: {method, bytesAffected: p.noTtlBytes === null ? null : Math.round(p.noTtlBytes * sample.scale)},
          })],
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
      const topNoTtl = sample.patterns.filter((p) => !isQueuePattern(p, queuePrefixes) && (p.noTtlBytes ?? 0) > 0)
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
          summary: `Set TTLs on the no-expiry patterns (${topNoTtl.join(', ') || 'see cache/no-ttl-pattern'}) before adding memory`,
          patterns: topNoTtl,
          refs: topNoTtl.flatMap((pattern) => ttlRemedyIds.get(pattern) ?? []),
        }],
      })
    }
    return findings
  },
}
