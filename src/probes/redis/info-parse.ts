/**
 * INFO's text format, parsed once here for every Redis probe: "# Section" headers, "field:value" lines, and the
 * keyspace lines "db0:keys=10,expires=2,avg_ttl=0".
 */
export type InfoFields = Record<string, string>

export function parseInfo(text: string): InfoFields {
  const fields: InfoFields = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

/** A numeric INFO field, or undefined when absent (older servers) or not a number. */
export function infoNumber(fields: InfoFields, name: string): number | undefined {
  const raw = fields[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  return Number.isFinite(n) ? n : undefined
}

export interface KeyspaceDb {
  db: number
  keys: number
  expires: number
  avgTtlMs: number
}

export function keyspaceDbs(fields: InfoFields): KeyspaceDb[] {
  const out: KeyspaceDb[] = []
  for (const [name, value] of Object.entries(fields)) {
    const m = /^db(\d+)$/.exec(name)
    if (!m) continue
    const parts = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]))
    out.push({db: Number(m[1]), keys: Number(parts.keys ?? 0), expires: Number(parts.expires ?? 0), avgTtlMs: Number(parts.avg_ttl ?? 0)})
  }
  return out.sort((a, b) => a.db - b.db)
}

/** Policies under which Redis evicts keys when maxmemory is reached (everything but noeviction). */
export function policyEvicts(policy: string | undefined): boolean {
  return !!policy && policy !== 'noeviction'
}

/** Whether the policy only evicts keys that have a TTL (volatile-*): keys without one are never evicted. */
export function policyIsVolatile(policy: string | undefined): boolean {
  return !!policy && policy.startsWith('volatile-')
}

/** OBJECT FREQ works only under an LFU policy and OBJECT IDLETIME only under the others. */
export function policyIsLfu(policy: string | undefined): boolean {
  return !!policy && policy.endsWith('-lfu')
}

/** Redis error replies that mean "not allowed" (ACL) or "no such command" (renamed or disabled). */
export function isPermissionError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /NOPERM|unknown command|ERR unknown subcommand|not allowed/i.test(message)
}
