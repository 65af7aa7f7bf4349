import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {ConfigError} from './errors.js'
import {parseComparison, type Comparison} from './threshold.js'
import type {MetricLookback} from './probe.js'
import type {Area, RemedyKind, Severity} from './types.js'
import {parseDurationSeconds, type Unit} from './units.js'

export const AREAS: readonly Area[] = ['database', 'replication', 'pool', 'cache', 'queue', 'latency', 'errors', 'resources', 'scaling']
const UNITS: readonly Unit[] = ['seconds', 'ratio', 'bytes', 'count']
const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info']

export interface RemedyTemplate {
  kind: RemedyKind
  summary: string
  /** Include this remedy only when these evidence conditions hold. */
  when?: Record<string, string>
  /** Include this remedy only for findings on targets of these kinds (`kinds: [postgres]`); absent: every kind. */
  kinds?: string[]
  /** Remedies of other findings this one points at: resolved to their ids (refs) or dropped (src/core/diagnosis.ts). */
  see?: FindingLink[]
  [field: string]: unknown
}

/**
 * How a cause finding is matched with a symptom finding (src/core/diagnosis.ts; docs/design.md section 5):
 * target: same target; subject: same target and subject; table, statement, queue: same target and a table,
 * statement (queryid) or queue named by both; reads: same target, and the cause's tables account for at least half
 * of the block reads the symptom lists per table; session: same target and a server session (pid) named by both.
 */
export const MATCH_KINDS = ['target', 'subject', 'table', 'statement', 'queue', 'reads', 'session'] as const
export type MatchKind = (typeof MATCH_KINDS)[number]

/** A rule's link to findings of another rule: `{rule: database/seq-scan-heavy-table, match: table}`. */
export interface FindingLink {
  rule: string
  match: MatchKind
}

export interface RuleCase {
  value: number | null
  evidence?: Record<string, unknown>
  expect: 'ok' | Severity
}

/**
 * A declarative rule. Threshold rules ('metric') compare a metric against a target band and an action
 * threshold. Advisor rules ('advisor') document and configure findings that advisor code raises.
 */
export interface RuleDefinition {
  id: string
  area: Area
  title: string
  description: string
  evaluator: 'metric' | 'advisor'
  metric?: string
  advisor?: string
  unit?: Unit
  target: string | null
  action: string | null
  /** Fixed severity for advice that is not a threshold breach. */
  severity?: Severity
  when?: Record<string, string>
  /**
   * How much history the metric's value covers, for probes that keep history (Prometheus): "5m". The probe reads
   * it at capture time (the snapshot records what each value covers). Absent: the probe's own window.
   */
  lookback?: string
  /**
   * The action threshold must hold through the whole lookback ("> 80% sustained"): it is compared with the level
   * held (evidence.lookback.min for an upper threshold, .max for a lower one); the target band with the value.
   */
  sustained?: boolean
  message: string
  docs: string
  source?: string
  remedies: RemedyTemplate[]
  /** A cause rule: the symptom findings its findings explain, and how each is matched. */
  explains?: FindingLink[]
  /**
   * An advisor rule's heuristic parameters (`heuristic: {minShare: 0.05, ttlFloorSeconds: 1}`): the numbers its
   * advisor decides by, kept in the rule file beside their sources; a config overrides them per rule and target.
   */
  heuristic?: Record<string, number>
  tests: RuleCase[]
  file: string
}

/** A rule with the user's overrides applied for one target, thresholds parsed. */
export interface EffectiveRule extends RuleDefinition {
  enabled: boolean
  targetCmp: Comparison | null
  actionCmp: Comparison | null
  whenCmp: Array<{path: string; cmp: Comparison}>
  /** The lookback in seconds (rule file, then the user's override), or null when the rule has none. */
  lookbackSeconds: number | null
  /** The lookback was set by the user's config (a rule setting or an override), not only by the rule file. */
  lookbackConfigured: boolean
}

/** Lookbacks a rule may ask for: at least a second (a rate needs two samples), at most a week of history. */
export const LOOKBACK_MIN_SECONDS = 1
export const LOOKBACK_MAX_SECONDS = 7 * 86_400

export function parseLookback(text: unknown, where: string): number {
  const seconds = typeof text === 'string' || typeof text === 'number' ? parseDurationSeconds(String(text)) : null
  if (seconds === null || seconds < LOOKBACK_MIN_SECONDS || seconds > LOOKBACK_MAX_SECONDS) {
    throw new ConfigError(`${where}: expected a duration from 1s to 7d such as "5m", got ${typeof text === 'string' && text.length <= 40 ? JSON.stringify(text) : typeof text}`)
  }
  return seconds
}

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DEFAULT_RULES_DIR = join(PACKAGE_ROOT, 'rules')

function yamlFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry)
    if (statSync(full).isDirectory()) out.push(...yamlFiles(full))
    else if (/\.ya?ml$/.test(entry)) out.push(full)
  }
  return out
}

const RULE_ID = /^[a-z]+\/[a-z0-9-]+$/

/** `explains:` or a remedy's `see:`: a list of {rule, match}, checked here so a typo fails on load, in one line. */
function parseLinks(raw: unknown, where: string, field: string): FindingLink[] | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!Array.isArray(raw)) throw new ConfigError(`${where}: ${field} must be a list of {rule, match}`)
  return raw.map((item, i) => {
    const at = `${where}: ${field}[${i}]`
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw new ConfigError(`${at} must be a mapping {rule, match}`)
    const {rule, match, ...rest} = item as Record<string, unknown>
    const extra = Object.keys(rest)
    if (extra.length > 0) throw new ConfigError(`${at}: unknown key "${extra[0]}" (expected rule and match)`)
    if (typeof rule !== 'string' || !RULE_ID.test(rule)) throw new ConfigError(`${at}.rule must be a rule id like "area/kebab-name", not ${JSON.stringify(rule ?? null)}`)
    if (typeof match !== 'string' || !(MATCH_KINDS as readonly string[]).includes(match)) {
      throw new ConfigError(`${at}.match must be one of ${MATCH_KINDS.join(', ')}, not ${JSON.stringify(match ?? null)}`)
    }
    return {rule, match: match as MatchKind}
  })
}

/** A heuristic mapping: names to finite numbers; with `known`, only names the rule file defines (a config's override). */
function parseHeuristic(raw: unknown, known: Record<string, number> | undefined, where: string): Record<string, number> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: expected a mapping of names to numbers`)
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (known && !Object.hasOwn(known, key)) {
      throw new ConfigError(`${where}.${key}: no such parameter${Object.keys(known).length ? ` (expected one of ${Object.keys(known).join(', ')})` : ': the rule has none'}`)
    }
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new ConfigError(`${where}.${key}: expected a number, got ${JSON.stringify(value) ?? typeof value}`)
    out[key] = n
  }
  return out
}

function need<T>(value: T | undefined | null, where: string, what: string): T {
  if (value === undefined || value === null || value === '') throw new ConfigError(`${where}: missing "${what}"`)
  return value
}

export function parseRule(raw: unknown, file: string): RuleDefinition {
  const where = `rule file ${file}`
  if (!raw || typeof raw !== 'object') throw new ConfigError(`${where}: expected a YAML mapping`)
  const r = raw as Record<string, unknown>
  const id = String(need(r.id, where, 'id'))
  if (!RULE_ID.test(id)) throw new ConfigError(`${where}: id "${id}" must look like "area/kebab-name"`)
  const area = String(need(r.area, where, 'area')) as Area
  if (!AREAS.includes(area)) throw new ConfigError(`${where}: area "${area}" is not one of ${AREAS.join(', ')}`)
  const evaluator = r.advisor ? 'advisor' : 'metric'
  const unit = r.unit === undefined ? undefined : (String(r.unit) as Unit)
  if (unit && !UNITS.includes(unit)) throw new ConfigError(`${where}: unit "${unit}" is not one of ${UNITS.join(', ')}`)
  const severity = r.severity === undefined ? undefined : (String(r.severity) as Severity)
  if (severity && !SEVERITIES.includes(severity)) throw new ConfigError(`${where}: severity "${severity}" is not one of ${SEVERITIES.join(', ')}`)
  const rule: RuleDefinition = {
    id,
    area,
    title: String(need(r.title, where, 'title')),
    description: String(need(r.description, where, 'description')).trim(),
    evaluator,
    metric: evaluator === 'metric' ? String(need(r.metric, where, 'metric')) : undefined,
    advisor: evaluator === 'advisor' ? String(r.advisor) : undefined,
    unit,
    target: r.target === undefined || r.target === null ? null : String(r.target),
    action: r.action === undefined || r.action === null ? null : String(r.action),
    severity,
    when: (r.when as Record<string, string> | undefined) ?? undefined,
    ...(r.lookback === undefined ? {} : {lookback: String(r.lookback)}),
    ...(r.sustained === undefined ? {} : {sustained: r.sustained === true}),
    message: String(need(r.message, where, 'message')),
    docs: String(r.docs ?? '').trim(),
    source: r.source === undefined ? undefined : String(r.source),
    remedies: ((r.remedies as RemedyTemplate[] | undefined) ?? []).map((t, i) => {
      if (t?.kinds !== undefined && !(Array.isArray(t.kinds) && t.kinds.length > 0 && t.kinds.every((k) => typeof k === 'string'))) {
        throw new ConfigError(`${where}: remedies[${i}].kinds must be a list of target kinds such as [postgres]`)
      }
      const see = parseLinks(t?.see, where, `remedies[${i}].see`)
      return see ? {...t, see} : t
    }),
    ...(r.explains !== undefined ? {explains: parseLinks(r.explains, where, 'explains')} : {}),
    ...(r.heuristic !== undefined ? {heuristic: parseHeuristic(r.heuristic, undefined, `${where}: heuristic`)} : {}),
    tests: (r.tests as RuleCase[] | undefined) ?? [],
    file,
  }
  if (rule.explains?.some((l) => l.rule === id)) throw new ConfigError(`${where}: explains lists the rule itself (${id})`)
  if (evaluator === 'metric' && !rule.action && !rule.severity) {
    throw new ConfigError(`${where}: a metric rule needs an "action" threshold or a fixed "severity"`)
  }
  if (r.sustained !== undefined && typeof r.sustained !== 'boolean') throw new ConfigError(`${where}: sustained: expected true or false`)
  if (rule.sustained && !rule.lookback) throw new ConfigError(`${where}: sustained needs a lookback (the time the level must hold)`)
  // Parse now so that a bad threshold in a shipped rule fails the build, not an audit.
  compileRule(rule, {})
  return rule
}

/** The YAML parser is loaded only when rules or a config file are read from YAML: it costs ~35 ms to import. */
export function parseYamlText(text: string): unknown {
  const {parse} = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  return parse(text)
}

/** Rules compiled at build time (`npm run build`), valid while every rule file is as it was then. */
export const COMPILED_RULES_FILE = join(PACKAGE_ROOT, 'dist', 'rules.json')

interface CompiledRules {
  files: Record<string, number>
  rules: RuleDefinition[]
}

function ruleFileStamps(dir: string): Record<string, number> {
  return Object.fromEntries(yamlFiles(dir).map((f) => [relative(PACKAGE_ROOT, f), Math.trunc(statSync(f).mtimeMs)]))
}

export function readCompiled(dir: string, file: string = COMPILED_RULES_FILE): RuleDefinition[] | undefined {
  if (dir !== DEFAULT_RULES_DIR || !existsSync(file)) return undefined
  try {
    const compiled = JSON.parse(readFileSync(file, 'utf8')) as CompiledRules
    const now = ruleFileStamps(dir)
    const same = Object.keys(now).length === Object.keys(compiled.files).length
      && Object.entries(now).every(([f, m]) => compiled.files[f] === m)
    return same ? compiled.rules : undefined
  } catch {
    return undefined
  }
}

function parseRuleFiles(dir: string): RuleDefinition[] {
  const rules: RuleDefinition[] = []
  const seen = new Map<string, string>()
  for (const file of yamlFiles(dir)) {
    if (file.endsWith('.test.yaml')) continue
    const rel = relative(PACKAGE_ROOT, file)
    const rule = parseRule(parseYamlText(readFileSync(file, 'utf8')), rel)
    const previous = seen.get(rule.id)
    if (previous) throw new ConfigError(`rule id ${rule.id} is defined twice: ${previous} and ${rel}`)
    seen.set(rule.id, rel)
    rules.push(rule)
  }
  return rules
}

/** The rules of one directory: the build's compiled bundle for the shipped rules while it is current, else the YAML. */
export function loadRules(dir: string = DEFAULT_RULES_DIR): RuleDefinition[] {
  return readCompiled(dir) ?? parseRuleFiles(dir)
}

/** The rules of several directories (the plugins'); a rule id defined twice is an error naming both files. */
export function loadRuleDirs(dirs: string[]): RuleDefinition[] {
  const rules: RuleDefinition[] = []
  const seen = new Map<string, string>()
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new ConfigError(`rules directory ${dir} does not exist (check the plugin's rulesDirs)`)
    for (const rule of loadRules(dir)) {
      const previous = seen.get(rule.id)
      if (previous) throw new ConfigError(`rule id ${rule.id} is defined twice: ${previous} and ${rule.file}`)
      seen.set(rule.id, rule.file)
      rules.push(rule)
    }
  }
  for (const rule of rules) {
    const links = [...(rule.explains ?? []), ...rule.remedies.flatMap((t) => t.see ?? [])]
    const unknown = links.find((l) => !seen.has(l.rule))
    if (unknown) throw new ConfigError(`rule file ${rule.file}: links to rule ${unknown.rule}, which no rules directory defines`)
  }
  return rules
}

/**
 * Validates and compiles the shipped rules into dist/rules.json, so a CLI run need not parse YAML.
 * `file` is for tests, which compile into a temporary file instead of the build's.
 */
export function writeCompiledRules(file: string = COMPILED_RULES_FILE): number {
  const compiled: CompiledRules = {files: ruleFileStamps(DEFAULT_RULES_DIR), rules: parseRuleFiles(DEFAULT_RULES_DIR)}
  writeFileSync(file, JSON.stringify(compiled))
  return compiled.rules.length
}

export interface RuleOverride {
  enabled?: boolean
  target?: string | null
  action?: string | null
  severity?: Severity
  when?: Record<string, string>
  /** Another lookback for the rule's metric ("10m"); the value read at capture covers it. */
  lookback?: string
  sustained?: boolean
  /** Other values for some of the rule's heuristic parameters. */
  heuristic?: Record<string, number>
}

export function compileRule(rule: RuleDefinition, override: RuleOverride, where = `rule ${rule.id}`): EffectiveRule {
  const target = override.target !== undefined ? override.target : rule.target
  const action = override.action !== undefined ? override.action : rule.action
  const when = {...rule.when, ...override.when}
  const lookback = override.lookback !== undefined ? String(override.lookback) : rule.lookback
  const sustained = override.sustained ?? rule.sustained
  if (override.sustained !== undefined && typeof override.sustained !== 'boolean') throw new ConfigError(`${where}.sustained: expected true or false`)
  if (sustained && !lookback) throw new ConfigError(`${where}.sustained: needs a lookback (the time the level must hold)`)
  const heuristic = override.heuristic === undefined ? rule.heuristic
    : {...rule.heuristic, ...parseHeuristic(override.heuristic, rule.heuristic ?? {}, `${where}.heuristic`)}
  return {
    ...rule,
    ...(heuristic === undefined ? {} : {heuristic}),
    target,
    action,
    severity: override.severity ?? rule.severity,
    when,
    ...(lookback === undefined ? {} : {lookback}),
    ...(sustained === undefined ? {} : {sustained}),
    lookbackSeconds: lookback === undefined ? null : parseLookback(lookback, `${where}.lookback`),
    lookbackConfigured: override.lookback !== undefined,
    enabled: override.enabled ?? true,
    targetCmp: target ? parseComparison(target, rule.unit, `${where}.target`) : null,
    actionCmp: action ? parseComparison(action, rule.unit, `${where}.action`) : null,
    whenCmp: Object.entries(when).map(([path, text]) => ({path, cmp: parseComparison(text, undefined, `${where}.when.${path}`)})),
  }
}

/** By metric name, the lookback the enabled threshold rules selecting it ask for (ProbeContext.lookbacks). */
export function metricLookbacks(rules: readonly EffectiveRule[]): Record<string, MetricLookback> {
  const out: Record<string, MetricLookback> = {}
  for (const rule of rules) {
    if (!rule.enabled || rule.evaluator !== 'metric' || !rule.metric || rule.lookbackSeconds === null) continue
    const seen = out[rule.metric]
    out[rule.metric] = seen
      ? {seconds: Math.max(seen.seconds, rule.lookbackSeconds), sustained: seen.sustained || Boolean(rule.sustained), rules: [...seen.rules, rule.id], configured: seen.configured || rule.lookbackConfigured}
      : {seconds: rule.lookbackSeconds, sustained: Boolean(rule.sustained), rules: [rule.id], configured: rule.lookbackConfigured}
  }
  return out
}
