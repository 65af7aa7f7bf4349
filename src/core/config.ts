import {existsSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {ConfigError} from './errors.js'
import type {OptionSpecs} from './plugin.js'
import type {Registry} from './registry.js'
import {compileRule, parseYamlText, type EffectiveRule, type RuleDefinition, type RuleOverride} from './rules.js'
import type {Secrets} from './secrets.js'
import type {FailOn, Severity, TargetKind, TargetSpec} from './types.js'
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
  options?: Record<TargetKind, Record<string, unknown> | undefined>
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
export function loadConfigFile(registry: Registry, explicit?: string, cwd = process.cwd()): LoadedConfig {
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
  return {config: validateConfig(raw ?? {}, registry, file), file}
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
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

/** Option keys of a kind: a misspelled one fails with "did you mean", a value of the wrong type says which type. */
function validateOptions(options: unknown, specs: OptionSpecs, where: string): void {
  if (!isObject(options)) throw new ConfigError(`${where}: expected a mapping of option names to values`)
  const names = Object.keys(specs)
  for (const [key, value] of Object.entries(options)) {
    const spec = specs[key]
    if (!spec) throw unknownKey(where, key, names)
    const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value
    // Numbers may be written as strings in YAML ("10000"); the probes parse them.
    const fits = actual === spec.type || (spec.type === 'number' && actual === 'string' && Number.isFinite(Number(value)))
    if (!fits) throw new ConfigError(`${where}.${key}: expected ${spec.type === 'array' ? 'a list' : spec.type === 'object' ? 'a mapping' : `a ${spec.type}`} (${spec.description}), got ${JSON.stringify(value)}`)
  }
}

/** skipProbes entries name a probe id or a prefix of ids ("postgres" skips every postgres.* probe). */
function validateSkipProbes(skip: unknown[], registry: Registry, where: string): void {
  const ids = registry.probeIds()
  skip.forEach((entry, i) => {
    const id = String(entry)
    if (ids.some((p) => p === id || p.startsWith(`${id}.`))) return
    const hint = closest(id, ids)
    throw new ConfigError(`${where}: skipProbes[${i}]: no probe "${id}"${hint ? ` (did you mean "${hint}"?)` : ` (probes: ${ids.join(', ')})`}`)
  })
}

export function validateConfig(raw: unknown, registry: Registry, file = 'config'): ChokepointConfig {
  const kinds = registry.kindNames()
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
      if (!kinds.includes(String(t.kind))) throw new ConfigError(`${tw}.kind: expected one of ${kinds.join(', ')}, got ${JSON.stringify(t.kind)}`)
      if (typeof t.url !== 'string' || !t.url) throw new ConfigError(`${tw}.url: missing (e.g. url: postgres://user@host:5432/db)`)
      try {
        new URL(t.url)
      } catch {
        throw new ConfigError(`${tw}.url: not a URL: write it as scheme://user@host:port/path`)
      }
      if (t.options !== undefined) validateOptions(t.options, registry.optionSpecs(String(t.kind)), `${tw}.options`)
    })
  }
  const rules = registry.rules()
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
    for (const [key, value] of Object.entries(raw.options)) {
      if (!kinds.includes(key)) throw unknownKey(`${where}: options`, key, kinds)
      validateOptions(value, registry.optionSpecs(key), `${where}: options.${key}`)
    }
  }
  if (raw.skipProbes !== undefined) {
    if (!Array.isArray(raw.skipProbes)) throw new ConfigError(`${where}: skipProbes: expected a list of probe ids`)
    validateSkipProbes(raw.skipProbes, registry, where)
  }
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
export function effectiveRules(config: ChokepointConfig, targetName: string, rules: RuleDefinition[]): EffectiveRule[] {
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

/** URLs given per target-kind flag, keyed by the flag's name (pg, redis, amqp ...). */
export type TargetFlags = Record<string, string[] | undefined>

export function defaultTargetName(kind: TargetKind, url: string): string {
  const u = new URL(url)
  const path = u.pathname && u.pathname !== '/' ? u.pathname : ''
  return `${kind}:${u.hostname || 'localhost'}${u.port ? `:${u.port}` : ''}${path}`
}

function checkUrl(registry: Registry, kind: TargetKind, url: string, origin: string): void {
  const def = registry.kind(kind)
  const schemes = def?.schemes ?? []
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${origin}: not a URL; write it as ${def?.example ?? 'scheme://user@host:port/...'}`)
  }
  if (schemes.length > 0 && !schemes.includes(parsed.protocol)) {
    throw new ConfigError(`${origin}: a ${kind} URL must start with ${schemes.map((s) => `${s}//`).join(' or ')}`)
  }
  // `postgres:/u:pw@h/db` and `postgres:///u:pw@h/db` parse as URLs with the credentials in the path: they would
  // be dialled as localhost. The message never repeats the URL, which holds the password.
  if (!url.slice(parsed.protocol.length).startsWith('//') || /@/.test(decodeURIComponentSafe(parsed.pathname))) {
    throw new ConfigError(`${origin}: not a well-formed ${kind} URL; write it as ${def?.example ?? `${parsed.protocol}//user@host:port/...`} (user:password@ right after //)`)
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Targets from the config file and flags; environment variables fill in a kind that neither names. */
export function resolveTargets(config: ChokepointConfig, flags: TargetFlags, registry: Registry, secrets: Secrets, env: NodeJS.ProcessEnv = process.env): TargetSpec[] {
  const targets: TargetSpec[] = []
  for (const t of config.targets ?? []) {
    checkUrl(registry, t.kind, t.url, `config targets: ${t.name ?? secrets.redactUrl(t.url)}`)
    targets.push({name: t.name ?? defaultTargetName(t.kind, t.url), kind: t.kind, url: t.url, options: {...config.options?.[t.kind], ...t.options}})
  }
  const kinds = registry.kinds()
  for (const def of kinds) {
    if (!def.flag) continue
    for (const url of flags[def.flag] ?? []) {
      checkUrl(registry, def.kind, url, `--${def.flag}`)
      targets.push({name: defaultTargetName(def.kind, url), kind: def.kind, url, options: {...config.options?.[def.kind]}})
    }
  }
  for (const def of kinds) {
    if (targets.some((t) => t.kind === def.kind)) continue
    const named = def.env?.find((name) => env[name])
    const found = named ? {url: env[named]!, origin: named} : def.urlFromEnv?.(env, secrets)
    if (!found) continue
    checkUrl(registry, def.kind, found.url, found.origin)
    targets.push({name: defaultTargetName(def.kind, found.url), kind: def.kind, url: found.url, options: {...config.options?.[def.kind]}})
  }
  const names = new Set<string>()
  for (const t of targets) {
    if (names.has(t.name)) throw new ConfigError(`target name "${t.name}" is used twice: give each target a distinct name in the config file`)
    names.add(t.name)
  }
  return targets
}
