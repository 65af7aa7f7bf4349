import {loadAdvisors} from '../advisors/index.js'
import type {AdvisorContext} from './advisor.js'
import {captureSnapshot, closeLive} from './capture.js'
import {effectiveRules, type ChokepointConfig} from './config.js'
import {acceptAdvisorFindings, evaluateSnapshot, sortFindings} from './engine.js'
import {errorMessage} from './errors.js'
import type {EffectiveRule} from './rules.js'
import {scrubSecrets} from './redact.js'
import {SEVERITY_RANK, type FailOn, type Finding, type Report, type Snapshot, type TargetSpec} from './types.js'
import {toolVersion} from './version.js'

export interface AuditOptions {
  config?: ChokepointConfig
  targets: TargetSpec[]
  windowSeconds: number
  failOn: FailOn
  log?: (message: string) => void
}

export interface AnalyseOptions {
  config?: ChokepointConfig
  failOn: FailOn
  source: 'live' | 'snapshot'
  live?: Map<string, unknown>
  specs?: TargetSpec[]
  log?: (message: string) => void
}

/** Probes the targets, then analyses the snapshot with the live connections available to advisors. */
export async function runAudit(options: AuditOptions): Promise<{report: Report; snapshot: Snapshot}> {
  const {snapshot, live} = await captureSnapshot(options.targets, {
    windowSeconds: options.windowSeconds,
    skipProbes: options.config?.skipProbes,
    keepOpen: true,
    log: options.log,
  })
  try {
    const conns = new Map([...live].map(([name, s]) => [name, s.conn]))
    const report = await analyseSnapshot(snapshot, {config: options.config, failOn: options.failOn, source: 'live', live: conns, specs: options.targets, log: options.log})
    return {report, snapshot}
  } finally {
    await closeLive(live)
  }
}

/** Rules and advisors over a snapshot. Offline (no live connections), advisors say what they could not verify. */
export async function analyseSnapshot(snapshot: Snapshot, options: AnalyseOptions): Promise<Report> {
  const config = options.config ?? {}
  const log = options.log ?? (() => {})
  const ruleCache = new Map<string, EffectiveRule[]>()
  const rulesFor = (target: string) => {
    let rules = ruleCache.get(target)
    if (!rules) {
      rules = effectiveRules(config, target)
      ruleCache.set(target, rules)
    }
    return rules
  }
  const findings: Finding[] = evaluateSnapshot(snapshot, rulesFor)
  const skipped = snapshot.readings
    .filter((r) => r.status !== 'ok')
    .map((r) => ({target: r.target, probe: r.probe, status: r.status as 'skipped' | 'error', reason: r.reason ?? 'no reason recorded'}))

  for (const advisor of await loadAdvisors()) {
    const scopes = advisor.scope === 'stack' ? [undefined] : snapshot.targets.filter((t) => t.kind === advisor.scope && t.status === 'ok')
    for (const target of scopes) {
      const ctx: AdvisorContext = {
        snapshot,
        target,
        spec: options.specs?.find((s) => s.name === target?.name),
        readings: target ? snapshot.readings.filter((r) => r.target === target.name) : snapshot.readings,
        live: options.live ?? new Map(),
        rules: rulesFor,
        options: {...config.options?.[target?.kind ?? 'postgres'], ...options.specs?.find((s) => s.name === target?.name)?.options},
        log,
      }
      try {
        findings.push(...acceptAdvisorFindings(await advisor.advise(ctx), rulesFor))
      } catch (error) {
        skipped.push({target: target?.name ?? 'stack', probe: `advisor.${advisor.id}`, status: 'error', reason: scrubSecrets(errorMessage(error).split('\n')[0])})
      }
    }
  }
  return buildReport(snapshot, sortFindings(findings), skipped, options.failOn, options.source)
}

export function gatePasses(findings: Finding[], failOn: FailOn): boolean {
  if (failOn === 'never') return true
  return !findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn])
}

export function buildReport(snapshot: Snapshot, findings: Finding[], skipped: Report['skipped'], failOn: FailOn, source: Report['source']): Report {
  const summary = {critical: 0, warning: 0, info: 0}
  for (const f of findings) summary[f.severity]++
  const passed = gatePasses(findings, failOn)
  const incomplete = snapshot.targets.some((t) => t.status !== 'ok') || skipped.some((s) => s.status === 'error')
  return {
    schemaVersion: 1,
    tool: {name: 'chokepoint', version: toolVersion()},
    generatedAt: new Date().toISOString(),
    source,
    windowSeconds: snapshot.windowSeconds,
    targets: snapshot.targets,
    findings,
    skipped,
    summary,
    gate: {failOn, passed, incomplete, exitCode: !passed ? 1 : incomplete ? 3 : 0},
    overhead: snapshot.overhead,
  }
}
