import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {resolve} from 'node:path'
import {ConfigError, errorMessage} from './errors.js'
import type {OptionSpec, OptionSpecs} from './plugin.js'
import type {Registry} from './registry.js'
import {compileRule, type EffectiveRule, type RuleDefinition, type RuleOverride} from './rules.js'
import type {Secrets} from './secrets.js'
import type {FailOn, Severity, TargetKind, TargetSpec} from './types.js'
import {parseDurationSeconds} from './units.js'
import {MAX_CONCURRENCY} from './limiter.js'

export const CONFIG_FILE_NAMES = ['chokepoint.config.yaml', 'chokepoint.config.yml', 'chokepoint.config.json']

export type RuleSetting = 'off' | 'on' | Severity | RuleOverride

export interface ChokepointConfig {
  window?: string | number
  failOn?: FailOn
  targets?: Array<{name?: string; kind: TargetKind; url: string; group?: string; options?: Record<string, unknown>}>
  /** Targets connected and sampled at once (--concurrency overrides it; default: defaultConcurrency()). */
  concurrency?: number
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

const TOP_KEYS = ['window', 'failOn', 'concurrency', 'targets', 'rules', 'overrides', 'options', 'skipProbes', '$schema']
const TARGET_KEYS = ['name', 'kind', 'url', 'group', 'options']
const OVERRIDE_KEYS = ['enabled', 'target', 'action', 'severity', 'when', 'lookback', 'sustained', 'heuristic']
const FAIL_ON: readonly FailOn[] = ['critical', 'warning', 'info', 'never']

/** Finds and reads the config file: --config if given, else the first of CONFIG_FILE_NAMES in cwd. */
export function loadConfigFile(registry: Registry, explicit?: string, cwd = process.cwd()): LoadedConfig {
  const file = explicit ? resolve(cwd, explicit) : CONFIG_FILE_NAMES.map((n) => resolve(cwd, n)).find((f) => existsSync(f))
  if (!file) return {config: {}}
  if (!existsSync(file)) throw new ConfigError(`config file ${explicit} not found (check the --config path)`)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}): check the --config path`)
  }
  const raw = file.endsWith('.json') ? parseJsonConfig(text, file) : parseYamlConfig(text, file)
  return {config: validateConfig(raw ?? {}, registry, file), file}
}

/** Deeper than any config needs; past it a file is refused before validation walks it. */
const MAX_DEPTH = 64

function parseJsonConfig(text: string, file: string): unknown {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`config ${file}: not valid JSON: ${oneLine(errorMessage(error))}`)
  }
  checkDepth(raw, file)
  return raw
}

/**
 * The YAML parser's problems as one line: its errors carry a code frame over several lines, and its warnings
 * (an unknown tag, say) went to the console as a Node warning of their own. A warning fails the load like an
 * error: the file does not mean what it says. Aliases are capped (an alias bomb expands to billions of nodes).
 */
function parseYamlConfig(text: string, file: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  const fail = (problem: string, offset?: number): never => {
    throw new ConfigError(`config ${file}: not valid YAML${offset === undefined ? '' : ` at ${lineAndColumn(text, offset)}`}: ${oneLine(problem)}`)
  }
  const described = (error: unknown) => {
    const message = errorMessage(error)
    if (error instanceof RangeError || /call stack/i.test(message)) return `nested more than the parser can follow (no setting is nested more than ${MAX_DEPTH} levels)`
    return /alias/i.test(message) ? 'too many aliases (at most 100): write the values out' : message
  }
  const options = {prettyErrors: false, logLevel: 'silent', uniqueKeys: true} as const
  let docs: ReturnType<typeof yaml.parseAllDocuments>
  try {
    docs = yaml.parseAllDocuments(text, options)
  } catch (error) {
    return fail(described(error))
  }
  // parseDocument would read the first of several and drop the rest without a word.
  if (Array.isArray(docs) && docs.length > 1) return fail(`${docs.length} documents (separated by ---): a config file is one`, docs[1].range?.[0])
  const doc = (Array.isArray(docs) ? docs[0] : undefined) ?? yaml.parseDocument('', options)
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem) return fail(described(problem), problem.pos?.[0])
  let raw: unknown
  try {
    raw = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    return fail(described(error))
  }
  checkDepth(raw, file)
  return raw
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`
}

function checkDepth(raw: unknown, file: string): void {
  const stack: Array<[unknown, number]> = [[raw, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (value === null || typeof value !== 'object') continue
    if (depth >= MAX_DEPTH) throw new ConfigError(`config ${file}: nested more than ${MAX_DEPTH} levels deep: no setting is`)
    for (const child of Object.values(value)) stack.push([child, depth + 1])
  }
}

/** The first line of a message, shortened: it names the problem, and exit 2 gets one line. */
function oneLine(message: string, max = 200): string {
  const line = message.split('\n').map((l) => l.trim()).find(Boolean) ?? message
  return line.length > max ? `${line.slice(0, max)}…` : line
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
  // A long key cannot be a typo of a short one, and the edit distance is quadratic in its length.
  const hint = key.length <= 64 ? closest(key, allowed) : undefined
  return new ConfigError(`${where}: unknown key ${quoteKey(key)}${hint ? ` (did you mean "${hint}"?)` : ` (allowed: ${allowed.join(', ')})`}`)
}

/** A key as written, quoted on one line (a YAML key may hold a newline) and shortened. */
function quoteKey(key: string): string {
  const quoted = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)
  return quoted
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function validateRuleSettings(settings: unknown, where: string, rules: RuleDefinition[]): Record<string, RuleSetting> {
  if (!isObject(settings)) throw new ConfigError(`${where}: expected a mapping of rule id to setting`)
  const ids = rules.map((r) => r.id)
  for (const [id, setting] of Object.entries(settings)) {
    const rule = rules.find((r) => r.id === id)
    if (!rule) {
      const hint = id.length <= 64 ? closest(id, ids) : undefined
      const shownId = /^[\x21-\x7e]{1,64}$/.test(id) ? id : quoteKey(id)
      throw new ConfigError(`${where}.${shownId}: no such rule${hint ? ` (did you mean "${hint}"?)` : ' (see `chokepoint rules list`)'}`)
    }
    if (typeof setting === 'string') {
      if (!['off', 'on', 'critical', 'warning', 'info'].includes(setting)) {
        throw new ConfigError(`${where}.${id}: expected off, on, critical, warning, info or a mapping, got "${setting}"`)
      }
      continue
    }
    if (!isObject(setting)) throw new ConfigError(`${where}.${id}: expected off, on, a severity or a mapping`)
    for (const key of Object.keys(setting)) if (!OVERRIDE_KEYS.includes(key)) throw unknownKey(`${where}.${id}`, key, OVERRIDE_KEYS)
    // `enabled: "false"` is a non-empty string, which kept the rule on.
    if (setting.enabled !== undefined && typeof setting.enabled !== 'boolean') {
      throw new ConfigError(`${where}.${id}.enabled: expected true or false, got ${shown(setting.enabled)}`)
    }
    if (setting.when !== undefined && !isObject(setting.when)) throw new ConfigError(`${where}.${id}.when: expected a mapping of evidence fields to comparisons, got ${describeValue(setting.when)}`)
    if (setting.severity !== undefined && !['critical', 'warning', 'info'].includes(String(setting.severity))) {
      throw new ConfigError(`${where}.${id}.severity: expected critical, warning or info, got "${String(setting.severity)}"`)
    }
    // Parses the thresholds now, so a typo is reported with its key before anything is probed.
    compileRule(rule, normaliseSetting(setting as RuleSetting), `${where}.${id}`)
  }
  return settings as Record<string, RuleSetting>
}

/**
 * Option keys of a kind: a misspelled one fails with "did you mean", a value of the wrong type says which type, a
 * number out of its bounds says the range. Returns the options with numbers written as strings ("10000" in YAML)
 * as numbers, so that drivers and probes get what the spec says.
 */
export function validateOptions(options: unknown, specs: OptionSpecs, where: string): Record<string, unknown> {
  if (!isObject(options)) throw new ConfigError(`${where}: expected a mapping of option names to values, got ${describeValue(options)}`)
  const names = Object.keys(specs)
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    // Own keys only: "constructor" or "__proto__" must not find Object.prototype's members.
    if (!Object.hasOwn(specs, key)) throw unknownKey(where, key, names)
    out[key] = validateOption(value, specs[key], `${where}.${key}`)
  }
  return out
}

function validateOption(value: unknown, spec: OptionSpec, where: string): unknown {
  const expected = expectedText(spec)
  const wrong = (): never => {
    // Enumerated strings are shown, since they are not secrets; other values only by their type (describeValue).
    const got = spec.values && typeof value === 'string' ? shown(value) : describeValue(value)
    throw new ConfigError(`${where}: expected ${expected} (${spec.description}), got ${got}`)
  }
  switch (spec.type) {
    case 'number': {
      // Numbers may be written as strings in YAML ("10000").
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
      if (!Number.isFinite(n)) return wrong()
      if ((spec.integer && !Number.isInteger(n)) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return wrong()
      return n
    }
    case 'string':
      if (typeof value !== 'string' || (spec.values && !spec.values.includes(value))) return wrong()
      return value
    case 'boolean':
      if (typeof value !== 'boolean') return wrong()
      return value
    case 'array':
      if (!Array.isArray(value)) return wrong()
      return spec.items ? value.map((item, i) => validateOption(item, spec.items!, `${where}[${i}]`)) : value
    case 'object': {
      if (!isObject(value)) return wrong()
      if (!spec.properties) return value
      for (const key of spec.required ?? []) if (value[key] === undefined) throw new ConfigError(`${where}: ${key} is required (${spec.description})`)
      return validateOptions(value, spec.properties, where)
    }
  }
}

function expectedText(spec: OptionSpec): string {
  switch (spec.type) {
    case 'number': {
      const what = spec.integer ? 'a whole number' : 'a number'
      if (spec.min !== undefined && spec.max !== undefined) return `${what} from ${spec.min} to ${spec.max}`
      if (spec.min !== undefined) return `${what} of at least ${spec.min}`
      if (spec.max !== undefined) return `${what} of at most ${spec.max}`
      return what
    }
    case 'string':
      return spec.values ? `one of ${spec.values.join(', ')}` : 'a string'
    case 'array':
      return 'a list'
    case 'object':
      return 'a mapping'
    default:
      return `a ${spec.type}`
  }
}

/**
 * What a value was, for an error message. Strings and structures are not shown: a value in the wrong place may be
 * a password, and the run's secret registry does not know it yet. Numbers and enumerated strings are.
 */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  switch (typeof value) {
    case 'number':
      return String(value)
    case 'boolean':
      return String(value)
    case 'string':
      return value === '' ? 'an empty string' : /^-?[\d.e+]+$/i.test(value) && value.length <= 30 ? `"${value}"` : 'a string'
    case 'object':
      return 'a mapping'
    default:
      return typeof value
  }
}

/** skipProbes entries name a probe id or a prefix of ids ("postgres" skips every postgres.* probe). */
function validateSkipProbes(skip: unknown[], registry: Registry, where: string): void {
  const ids = registry.probeIds()
  skip.forEach((entry, i) => {
    if (typeof entry !== 'string') throw new ConfigError(`${where}: skipProbes[${i}]: expected a probe id such as "postgres.plans", got ${describeValue(entry)}`)
    const id = entry
    if (ids.some((p) => p === id || p.startsWith(`${id}.`))) return
    const hint = closest(id, ids)
    throw new ConfigError(`${where}: skipProbes[${i}]: no probe "${id}"${hint ? ` (did you mean "${hint}"?)` : ` (probes: ${ids.join(', ')})`}`)
  })
}

export function validateConfig(raw: unknown, registry: Registry, file = 'config'): ChokepointConfig {
  const kinds = registry.kindNames()
  const where = `config ${file}`
  if (!isObject(raw)) throw new ConfigError(`${where}: expected a mapping at the top level, got ${describeValue(raw)}`)
  for (const key of Object.keys(raw)) if (!TOP_KEYS.includes(key)) throw unknownKey(where, key, TOP_KEYS)
  if (raw.window !== undefined && (!['string', 'number'].includes(typeof raw.window) || parseDurationSeconds(String(raw.window)) === null)) {
    throw new ConfigError(`${where}: window: expected a duration like "10s" or 0, got ${shown(raw.window)}`)
  }
  if (raw.failOn !== undefined && !FAIL_ON.includes(raw.failOn as FailOn)) {
    throw new ConfigError(`${where}: failOn: expected one of ${FAIL_ON.join(', ')}, got ${shown(raw.failOn)}`)
  }
  if (raw.concurrency !== undefined) checkConcurrency(raw.concurrency, `${where}: concurrency`)
  const config: Record<string, unknown> = {...raw}
  if (raw.targets !== undefined) {
    if (!Array.isArray(raw.targets)) throw new ConfigError(`${where}: targets: expected a list, got ${describeValue(raw.targets)}`)
    config.targets = raw.targets.map((t, i) => {
      const tw = `${where}: targets[${i}]`
      if (!isObject(t)) throw new ConfigError(`${tw}: expected a mapping with kind and url, got ${describeValue(t)}`)
      for (const key of Object.keys(t)) if (!TARGET_KEYS.includes(key)) throw unknownKey(tw, key, TARGET_KEYS)
      if (t.name !== undefined) checkTargetName(t.name, `${tw}.name`)
      if (t.group !== undefined) checkGroupName(t.group, `${tw}.group`)
      if (typeof t.kind !== 'string' || !kinds.includes(t.kind)) throw new ConfigError(`${tw}.kind: expected one of ${kinds.join(', ')}, got ${shown(t.kind)}`)
      if (typeof t.url !== 'string' || !t.url) throw new ConfigError(`${tw}.url: missing (e.g. url: postgres://user@host:5432/db)`)
      try {
        new URL(t.url)
      } catch {
        throw new ConfigError(`${tw}.url: not a URL: write it as scheme://user@host:port/path`)
      }
      return t.options === undefined ? t : {...t, options: validateOptions(t.options, registry.optionSpecs(t.kind), `${tw}.options`)}
    })
  }
  const rules = registry.rules()
  if (raw.rules !== undefined) validateRuleSettings(raw.rules, `${where}: rules`, rules)
  if (raw.overrides !== undefined) {
    if (!Array.isArray(raw.overrides)) throw new ConfigError(`${where}: overrides: expected a list of {targets, rules}, got ${describeValue(raw.overrides)}`)
    raw.overrides.forEach((o, i) => {
      const ow = `${where}: overrides[${i}]`
      if (!isObject(o)) throw new ConfigError(`${ow}: expected a mapping with targets and rules, got ${describeValue(o)}`)
      for (const key of Object.keys(o)) if (!['targets', 'rules'].includes(key)) throw unknownKey(ow, key, ['targets', 'rules'])
      if (!Array.isArray(o.targets)) throw new ConfigError(`${ow}.targets: expected a list of target names or globs, got ${describeValue(o.targets)}`)
      o.targets.forEach((g, j) => {
        if (typeof g !== 'string' || g === '') throw new ConfigError(`${ow}.targets[${j}]: expected a target name or glob such as "replica-*", got ${shown(g)}`)
      })
      validateRuleSettings(o.rules, `${ow}.rules`, rules)
    })
  }
  if (raw.options !== undefined) {
    if (!isObject(raw.options)) throw new ConfigError(`${where}: options: expected a mapping by target kind, got ${describeValue(raw.options)}`)
    const byKind: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(raw.options)) {
      if (!kinds.includes(key)) throw unknownKey(`${where}: options`, key, kinds)
      byKind[key] = validateOptions(value, registry.optionSpecs(key), `${where}: options.${key}`)
    }
    config.options = byKind
  }
  if (raw.skipProbes !== undefined) {
    if (!Array.isArray(raw.skipProbes)) throw new ConfigError(`${where}: skipProbes: expected a list of probe ids, got ${describeValue(raw.skipProbes)}`)
    validateSkipProbes(raw.skipProbes, registry, where)
  }
  return config as ChokepointConfig
}

/**
 * Target names are report keys, file names in CI and glob subjects: a string of one line. A number or a mapping
 * there reached the JSON report as it was (the schema says string) and crashed sorting findings.
 */
function checkTargetName(name: unknown, where: string): void {
  if (typeof name !== 'string' || name.trim() === '') throw new ConfigError(`${where}: expected a name such as "primary", got ${describeValue(name)}`)
  if (name.length > 200) throw new ConfigError(`${where}: at most 200 characters, got ${name.length}`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(name)) throw new ConfigError(`${where}: must be one line without control characters`)
}

/** The pattern of a group name: it is a selector (`--target group:NAME`), a Prometheus label value and a report heading. */
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

function checkGroupName(group: unknown, where: string): void {
  if (typeof group !== 'string' || !GROUP_NAME.test(group)) {
    throw new ConfigError(`${where}: expected a group name of letters, digits, "_", "." or "-" (at most 64, e.g. "eu-west"), got ${shown(group)}`)
  }
}

/** --concurrency and the config's `concurrency`: a whole number of targets worked on at once. */
export function checkConcurrency(value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) throw new ConfigError(`${where}: expected a whole number of targets from 1 to ${MAX_CONCURRENCY}, got ${shown(value)}`)
  return n
}

/** A value for a message: short strings as they are, anything else by what it is (see describeValue). */
function shown(value: unknown): string {
  return typeof value === 'string' && value.length <= 40 && !/[\u0000-\u001f]/.test(value) ? JSON.stringify(value) : describeValue(value)
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
      if (setting === undefined) continue
      const next = normaliseSetting(setting)
      merged = {...merged, ...next, when: {...merged.when, ...next.when}, ...(merged.heuristic || next.heuristic ? {heuristic: {...merged.heuristic, ...next.heuristic}} : {})}
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
  const problem = def?.urlProblem?.(parsed)
  if (problem) throw new ConfigError(`${origin}: ${problem}`)
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Targets as the library receives them (runAudit({targets})), held to what a config file is held to: a name of
 * one line, options of the kind's schema within their bounds. Without it, options no config file may set
 * (readOnly: false, statementTimeoutMs: 0) reached the driver and turned off the read-only session and the
 * statement timeout. A kind no plugin defines is left to the capture, which reports it skipped.
 */
export function validateTargets(targets: readonly TargetSpec[], registry: Registry): TargetSpec[] {
  if (!Array.isArray(targets)) throw new ConfigError(`targets: expected a list of {name, kind, url, options}, got ${describeValue(targets)}`)
  const kinds = registry.kindNames()
  return targets.map((t, i): TargetSpec => {
    const where = `targets[${i}]`
    // Typed as TargetSpec, but a JavaScript caller can pass anything.
    if (!isObject(t as unknown)) throw new ConfigError(`${where}: expected {name, kind, url, options}, got ${describeValue(t)}`)
    checkTargetName(t.name, `${where}.name`)
    if (t.group !== undefined) checkGroupName(t.group, `${where}.group`)
    if (typeof t.url !== 'string' || !t.url) throw new ConfigError(`${where}.url: expected a URL such as postgres://user@host:5432/db`)
    if (!kinds.includes(t.kind)) return t
    return {...t, options: validateOptions(t.options ?? {}, registry.optionSpecs(t.kind), `${where} (${t.name}).options`)}
  })
}

/** Targets from the config file and flags; environment variables fill in a kind that neither names. */
export function resolveTargets(config: ChokepointConfig, flags: TargetFlags, registry: Registry, secrets: Secrets, env: NodeJS.ProcessEnv = process.env): TargetSpec[] {
  const targets: TargetSpec[] = []
  for (const t of config.targets ?? []) {
    checkUrl(registry, t.kind, t.url, `config targets: ${t.name ?? secrets.redactUrl(t.url)}`)
    targets.push({name: t.name ?? defaultTargetName(t.kind, t.url), kind: t.kind, url: t.url, ...(t.group === undefined ? {} : {group: t.group}),
      options: {...config.options?.[t.kind], ...t.options}})
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
