import {existsSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {ConfigError} from './errors.js'
import {compileRule, loadRules, parseYamlText, type EffectiveRule, type RuleDefinition, type RuleOverride} from './rules.js'
import {redactUrl, registerSecret} from './redact.js'
import {TARGET_KINDS, type FailOn, type Severity, type TargetKind, type TargetSpec} from './types.js'
import {parseDurationSeconds} from './units.js'

export const CONFIG_FILE_NAMES = ['chokepoint.config.yaml', 'chokepoint.config.yml', 'chokepoint.config.json']

export type RuleSetting = 'off' | 'on' | Severity | RuleOverride

export interface ChokepointConfig {
  window?: string | number
  failOn?: FailOn
  targets?: Array<{name?: string; kind: TargetKind; url: string; options?: Record<string, unknown>}>
  rules?: Record<string, RuleSetting>
  overrides?: Array<{targets: string[]; rules: Record<string, RuleSetting>}>
  /** Defaults for every target of a kind, e.g. options.redis.sampleKeys, options.prometheus.queries. */
  options?: Partial<Record<TargetKind, Record<string, unknown>>>
  /** Probe ids (or prefixes such as "postgres.statements") not to run. */
  skipProbes?: string[]
}

export interface LoadedConfig {
  config: ChokepointConfig
  file?: string
}

const TOP_KEYS = ['window', 'failOn', 'targets', 'rules', 'overrides', 'options', 'skipProbes', '$schema']
const TARGET_KEYS = ['name', 'kind', 'url', 'options']
const OVERRIDE_KEYS = ['enabled', 'target', 'action', 'severity', 'when']
const FAIL_ON: readonly FailOn[] = ['critical', 'warning', 'info', 'never']

/** Finds and reads the config file: --config if given, else the first of CONFIG_FILE_NAMES in cwd. */
export function loadConfigFile(explicit?: string, cwd = process.cwd()): LoadedConfig {
  const file = explicit ? resolve(cwd, explicit) : CONFIG_FILE_NAMES.map((n) => resolve(cwd, n)).find((f) => existsSync(f))
  if (!file) return {config: {}}
  if (!existsSync(file)) throw new ConfigError(`config file ${explicit} not found (check the --config path)`)
  const text = readFileSync(file, 'utf8')
  let raw: unknown
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYamlText(text)
  } catch (error) {
    const detail = (error as Error).message.split('\n')[0]
    throw new ConfigError(`config ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${detail}`)
  }
  return {config: validateConfig(raw ?? {}, file), file}
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = Infinity
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestScore) {
      best = c
      bestScore = d
    }
  }
  return bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({length: a.length + 1}, (_, i) => [i, ...Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) dp[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return dp[a.length][b.length]
}

function unknownKey(where: string, key: string, allowed: readonly string[]): ConfigError {
  const hint = closest(key, allowed)
  return new ConfigError(`${where}: unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ` (allowed: ${allowed.join(', ')})`}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function validateRuleSettings(settings: unknown, where: string, rules: RuleDefinition[]): Record<string, RuleSetting> {
  if (!isObject(settings)) throw new ConfigError(`${where}: expected a mapping of rule id to setting`)
  const ids = rules.map((r) => r.id)
  for (const [id, setting] of Object.entries(settings)) {
    const rule = rules.find((r) => r.id === id)
    if (!rule) throw new ConfigError(`${where}.${id}: no such rule${closest(id, ids) ? ` (did you mean "${closest(id, ids)}"?)` : ' (see `chokepoint rules list`)'}`)
    if (typeof setting === 'string') {
      if (!['off', 'on', 'critical', 'warning', 'info'].includes(setting)) {
        throw new ConfigError(`${where}.${id}: expected off, on, critical, warning, info or a mapping, got "${setting}"`)
      }
      continue
    }
    if (!isObject(setting)) throw new ConfigError(`${where}.${id}: expected off, on, a severity or a mapping`)
    for (const key of Object.keys(setting)) if (!OVERRIDE_KEYS.includes(key)) throw unknownKey(`${where}.${id}`, key, OVERRIDE_KEYS)
    if (setting.severity !== undefined && !['critical', 'warning', 'info'].includes(String(setting.severity))) {
      throw new ConfigError(`${where}.${id}.severity: expected critical, warning or info, got "${String(setting.severity)}"`)
    }
    // Parses the thresholds now, so a typo is reported with its key before anything is probed.
    compileRule(rule, normaliseSetting(setting as RuleSetting), `${where}.${id}`)
  }
  return settings as Record<string, RuleSetting>
}

export function validateConfig(raw: unknown, file = 'config'): ChokepointConfig {
  const where = `config ${file}`
  if (!isObject(raw)) throw new ConfigError(`${where}: expected a mapping at the top level`)
  for (const key of Object.keys(raw)) if (!TOP_KEYS.includes(key)) throw unknownKey(where, key, TOP_KEYS)
  if (raw.window !== undefined && parseDurationSeconds(String(raw.window)) === null) {
    throw new ConfigError(`${where}: window: expected a duration like "10s" or 0, got ${JSON.stringify(raw.window)}`)
  }
  if (raw.failOn !== undefined && !FAIL_ON.includes(raw.failOn as FailOn)) {
    throw new ConfigError(`${where}: failOn: expected one of ${FAIL_ON.join(', ')}, got ${JSON.stringify(raw.failOn)}`)
  }
  if (raw.targets !== undefined) {
    if (!Array.isArray(raw.targets)) throw new ConfigError(`${where}: targets: expected a list`)
    raw.targets.forEach((t, i) => {
      const tw = `${where}: targets[${i}]`
      if (!isObject(t)) throw new ConfigError(`${tw}: expected a mapping with kind and url`)
      for (const key of Object.keys(t)) if (!TARGET_KEYS.includes(key)) throw unknownKey(tw, key, TARGET_KEYS)
      if (!TARGET_KINDS.includes(t.kind as TargetKind)) throw new ConfigError(`${tw}.kind: expected one of ${TARGET_KINDS.join(', ')}, got ${JSON.stringify(t.kind)}`)
      if (typeof t.url !== 'string' || !t.url) throw new ConfigError(`${tw}.url: missing (e.g. url: postgres://user@host:5432/db)`)
      try {
        new URL(t.url)
      } catch {
        throw new ConfigError(`${tw}.url: not a URL: write it as scheme://user@host:port/path`)
      }
    })
  }
  const rules = loadRules()
  if (raw.rules !== undefined) validateRuleSettings(raw.rules, `${where}: rules`, rules)
  if (raw.overrides !== undefined) {
    if (!Array.isArray(raw.overrides)) throw new ConfigError(`${where}: overrides: expected a list of {targets, rules}`)
    raw.overrides.forEach((o, i) => {
      const ow = `${where}: overrides[${i}]`
      if (!isObject(o)) throw new ConfigError(`${ow}: expected a mapping with targets and rules`)
      for (const key of Object.keys(o)) if (!['targets', 'rules'].includes(key)) throw unknownKey(ow, key, ['targets', 'rules'])
      if (!Array.isArray(o.targets)) throw new ConfigError(`${ow}.targets: expected a list of target names or globs`)
      validateRuleSettings(o.rules, `${ow}.rules`, rules)
    })
  }
  if (raw.options !== undefined) {
    if (!isObject(raw.options)) throw new ConfigError(`${where}: options: expected a mapping by target kind`)
    for (const key of Object.keys(raw.options)) if (!TARGET_KINDS.includes(key as TargetKind)) throw unknownKey(`${where}: options`, key, TARGET_KINDS)
  }
  if (raw.skipProbes !== undefined && !Array.isArray(raw.skipProbes)) throw new ConfigError(`${where}: skipProbes: expected a list of probe ids`)
  return raw as ChokepointConfig
}

export function normaliseSetting(setting: RuleSetting): RuleOverride {
  if (setting === 'off') return {enabled: false}
  if (setting === 'on') return {enabled: true}
  if (typeof setting === 'string') return {severity: setting}
  return setting
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`)
}

/** The rules as they apply to one target: defaults, then `rules:` overrides, then matching `overrides:` blocks. */
export function effectiveRules(config: ChokepointConfig, targetName: string, rules = loadRules()): EffectiveRule[] {
  return rules.map((rule) => {
    let merged: RuleOverride = {}
    const global = config.rules?.[rule.id]
    if (global !== undefined) merged = {...merged, ...normaliseSetting(global)}
    for (const block of config.overrides ?? []) {
      if (!block.targets.some((g) => globToRegExp(g).test(targetName))) continue
      const setting = block.rules[rule.id]
      if (setting !== undefined) merged = {...merged, ...normaliseSetting(setting), when: {...merged.when, ...normaliseSetting(setting).when}}
    }
    return compileRule(rule, merged)
  })
}

export interface TargetFlags {
  pg?: string[]
  redis?: string[]
  amqp?: string[]
  nats?: string[]
  pgbouncer?: string[]
  prometheus?: string[]
}

const FLAG_KINDS: Array<[keyof TargetFlags, TargetKind]> = [
  ['pg', 'postgres'], ['pgbouncer', 'pgbouncer'], ['redis', 'redis'], ['amqp', 'rabbitmq'], ['nats', 'nats'], ['prometheus', 'prometheus'],
]

const SCHEMES: Record<TargetKind, string[]> = {
  postgres: ['postgres:', 'postgresql:'],
  pgbouncer: ['postgres:', 'postgresql:'],
  redis: ['redis:', 'rediss:'],
  rabbitmq: ['amqp:', 'amqps:', 'http:', 'https:'],
  nats: ['nats:', 'tls:'],
  prometheus: ['http:', 'https:'],
}

export function defaultTargetName(kind: TargetKind, url: string): string {
  const u = new URL(url)
  const path = u.pathname && u.pathname !== '/' ? u.pathname : ''
  return `${kind}:${u.hostname || 'localhost'}${u.port ? `:${u.port}` : ''}${path}`
}

function checkUrl(kind: TargetKind, url: string, origin: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${origin}: not a URL; write it as ${SCHEMES[kind][0]}//user@host:port/...`)
  }
  if (!SCHEMES[kind].includes(parsed.protocol)) {
    throw new ConfigError(`${origin}: a ${kind} URL must start with ${SCHEMES[kind].map((s) => `${s}//`).join(' or ')}`)
  }
}

/** libpq's PG* variables as a URL; the password stays in PGPASSWORD, which node-postgres reads itself. */
function urlFromLibpqEnv(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.PGHOST && !env.PGDATABASE && !env.PGPORT && !env.PGUSER) return undefined
  registerSecret(env.PGPASSWORD)
  const host = env.PGHOST && !env.PGHOST.startsWith('/') ? env.PGHOST : 'localhost'
  const user = env.PGUSER ? `${encodeURIComponent(env.PGUSER)}@` : ''
  const socket = env.PGHOST?.startsWith('/') ? `?host=${encodeURIComponent(env.PGHOST)}` : ''
  return `postgres://${user}${host}:${env.PGPORT ?? '5432'}/${encodeURIComponent(env.PGDATABASE ?? env.PGUSER ?? 'postgres')}${socket}`
}

/** Targets from the config file and flags; environment variables fill in a kind that neither names. */
export function resolveTargets(config: ChokepointConfig, flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): TargetSpec[] {
  const targets: TargetSpec[] = []
  for (const t of config.targets ?? []) {
    checkUrl(t.kind, t.url, `config targets: ${t.name ?? redactUrl(t.url)}`)
    targets.push({name: t.name ?? defaultTargetName(t.kind, t.url), kind: t.kind, url: t.url, options: {...config.options?.[t.kind], ...t.options}})
  }
  for (const [flag, kind] of FLAG_KINDS) {
    for (const url of flags[flag] ?? []) {
      checkUrl(kind, url, `--${flag}`)
      targets.push({name: defaultTargetName(kind, url), kind, url, options: {...config.options?.[kind]}})
    }
  }
  const has = (kind: TargetKind) => targets.some((t) => t.kind === kind)
  const fromEnv: Array<[TargetKind, string | undefined, string]> = [
    ['postgres', env.DATABASE_URL ?? urlFromLibpqEnv(env), env.DATABASE_URL ? 'DATABASE_URL' : 'PG* variables'],
    ['redis', env.REDIS_URL, 'REDIS_URL'],
    ['rabbitmq', env.AMQP_URL, 'AMQP_URL'],
    ['nats', env.NATS_URL, 'NATS_URL'],
    ['prometheus', env.PROMETHEUS_URL, 'PROMETHEUS_URL'],
  ]
  for (const [kind, url, origin] of fromEnv) {
    if (!url || has(kind)) continue
    checkUrl(kind, url, origin)
    targets.push({name: defaultTargetName(kind, url), kind, url, options: {...config.options?.[kind]}})
  }
  const names = new Set<string>()
  for (const t of targets) {
    if (names.has(t.name)) throw new ConfigError(`target name "${t.name}" is used twice: give each target a distinct name in the config file`)
    names.add(t.name)
  }
  return targets
}
