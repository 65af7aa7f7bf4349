import type {AdvisorContext} from './advisor.js'
import {CaptureSession} from './capture.js'
import {collectChecks, ruleInfo, type Check, type OmittedChecks} from './checks.js'
import {markUnreadTargets, readingGaps} from './coverage.js'
import {effectiveRules, validateTargets, type ChokepointConfig} from './config.js'
import {diagnose} from './diagnosis.js'
import {pathVerdict} from './verdict.js'
import {acceptAdvisorFindings, evaluateSnapshot, sortFindings, type Evaluation} from './engine.js'
import {errorMessage} from './errors.js'
import type {Instrumentation} from './instrumentation.js'
import type {CommandLog} from './probe.js'
import type {Progress} from './progress.js'
import type {Registry} from './registry.js'
import type {EffectiveRule} from './rules.js'
import type {Secrets} from './secrets.js'
import {REPORT_SCHEMA_VERSION, SEVERITY_RANK, type FailOn, type Finding, type NotReadEntry, type Report, type Snapshot, type TargetInfo, type TargetSpec} from './types.js'
import {toolVersion} from './version.js'
import {defaultConcurrency} from './limiter.js'
import {fleetSummary, type FleetSummary} from './fleet.js'

export interface AuditOptions {
  registry: Registry
  /** The audit's secret registry: every output of this audit is scrubbed with it. */
  secrets: Secrets
  config?: ChokepointConfig
  targets: TargetSpec[]
  windowSeconds: number
  failOn: FailOn
  log?: (message: string) => void
  /** Progress of the slow parts (window, what-if plans, key samples), drawn by the caller (default: none). */
  progress?: Progress
  instrumentation?: Instrumentation
  /** Targets connected and sampled at once (default: the config's `concurrency`, else defaultConcurrency()). */
  concurrency?: number
}

export interface AnalyseOptions {
  registry: Registry
  secrets: Secrets
  config?: ChokepointConfig
  failOn: FailOn
  source: 'live' | 'snapshot'
  live?: Map<string, unknown>
  /** Per target, the log advisors' live queries are recorded in (what-if calls count as round trips). */
  commandLogs?: (target: string) => CommandLog | undefined
  specs?: TargetSpec[]
  log?: (message: string) => void
  progress?: Progress
  /** Why a live audit has no live connections for the advisors (a fleet larger than the concurrency). */
  liveUnavailable?: string
  /** Told when each advisor starts and ends (its queries reach the command logs' own instrumentation). */
  instrumentation?: Instrumentation
}

/** Probes the targets, then analyses the snapshot with the live connections available to advisors. */
export async function runAudit(options: AuditOptions): Promise<{report: Report; snapshot: Snapshot}> {
  const started = performance.now()
  // Before anything connects: an option out of its bounds must not reach a driver (see validateTargets).
  const targets = validateTargets(options.targets, options.registry)
  options.instrumentation?.auditStart?.({targets: targets.map((t) => t.name)})
  const concurrency = options.concurrency ?? options.config?.concurrency ?? defaultConcurrency()
  // A fleet larger than the concurrency would otherwise hold every connection open until the advisors end: each is
  // closed within its turn instead, and the advisors that plan on a live server (what-if) say why they did not.
  const closeAfterSample = targets.length > concurrency
  const session = new CaptureSession(targets, {
    concurrency,
    closeAfterSample,
    registry: options.registry,
    rulesFor: rulesByTarget(options.config ?? {}, options.registry),
    secrets: options.secrets,
    windowSeconds: options.windowSeconds,
    skipProbes: options.config?.skipProbes,
    log: options.log,
    progress: options.progress,
    instrumentation: options.instrumentation,
  })
  let failure: unknown
  try {
    const snapshot = await session.sample()
    const report = await analyseSnapshot(snapshot, {
      registry: options.registry, secrets: options.secrets, config: options.config, failOn: options.failOn, source: 'live',
      live: session.live(), ...(closeAfterSample ? {liveUnavailable: `the fleet's ${targets.length} targets are more than --concurrency ${concurrency}, so each connection closed after its sample (raise --concurrency to ${targets.length} to keep them for the advisors)`} : {}),
      commandLogs: (target) => session.commandLog(target), specs: targets, log: options.log, progress: options.progress,
      instrumentation: options.instrumentation,
    })
    // Taken after the advisors ran, so their EXPLAIN and what-if calls are in the overhead report.
    const overhead = session.overheadEntries()
    return {report: {...report, overhead}, snapshot: {...snapshot, overhead}}
  } catch (error) {
    failure = error
    throw error
  } finally {
    await session.close()
    options.instrumentation?.auditEnd?.({durationMs: performance.now() - started, ...(failure ? {error: errorMessage(failure)} : {})})
  }
}

/** The rules as they apply to each target, computed once per target. */
export function rulesByTarget(config: ChokepointConfig, registry: Registry): (target: string) => EffectiveRule[] {
  const cache = new Map<string, EffectiveRule[]>()
  return (target) => {
    let rules = cache.get(target)
    if (!rules) {
      rules = effectiveRules(config, target, registry.rules())
      cache.set(target, rules)
    }
    return rules
  }
}

/** Rules and advisors over a snapshot. Offline (no live connections), advisors say what they could not verify. */
export async function analyseSnapshot(snapshot: Snapshot, options: AnalyseOptions): Promise<Report> {
  const config = options.config ?? {}
  const log = options.log ?? (() => {})
  const {registry} = options
  const evaluation: Evaluation = {rulesFor: rulesByTarget(config, registry), applierFor: (kind, where) => registry.applierFor(kind, where)}
  const findings: Finding[] = evaluateSnapshot(snapshot, evaluation)
  const skipped = snapshot.readings
    .filter((r) => r.status !== 'ok')
    .map((r) => ({target: r.target, probe: r.probe, status: r.status as 'skipped' | 'error', reason: r.reason ?? 'no reason recorded'}))
  const advisorFailures: Array<{target: string; advisor: string; reason: string}> = []
  const notRead: NotReadEntry[] = readingGaps(snapshot.readings)

  for (const {definition, advisor} of await registry.advisors()) {
    const scopes = definition.scope === 'stack' ? [undefined] : snapshot.targets.filter((t) => t.kind === definition.scope && t.status === 'ok')
    for (const target of scopes) {
      const spec = options.specs?.find((s) => s.name === target?.name)
      const ctx: AdvisorContext = {
        snapshot,
        target,
        spec,
        readings: target ? snapshot.readings.filter((r) => r.target === target.name) : snapshot.readings,
        live: options.live ?? new Map(),
        ...(options.liveUnavailable ? {liveUnavailable: options.liveUnavailable} : {}),
        rules: evaluation.rulesFor,
        options: {...config.options?.[target?.kind ?? 'postgres'], ...spec?.options},
        log,
        progress: options.progress,
        notRead: (gap) => notRead.push({target: target?.name ?? 'stack', probe: `advisor.${definition.id}`, ...gap,
          reason: options.secrets.scrub(gap.reason), ...(gap.fix ? {fix: options.secrets.scrub(gap.fix)} : {})}),
      }
      const commands = target ? options.commandLogs?.(target.name) : undefined
      if (commands) commands.currentProbe = `advisor.${definition.id}`
      const event = {...(target ? {target: target.name} : {}), advisor: definition.id}
      options.instrumentation?.advisorStart?.(event)
      const started = performance.now()
      try {
        const accepted = acceptAdvisorFindings(await advisor.advise(ctx), evaluation, (name) => snapshot.targets.find((t) => t.name === name)?.kind)
        findings.push(...accepted)
        options.instrumentation?.advisorEnd?.({...event, durationMs: performance.now() - started, findings: accepted.length})
      } catch (error) {
        const reason = options.secrets.scrub(errorMessage(error).split('\n')[0])
        advisorFailures.push({target: target?.name ?? 'stack', advisor: definition.id, reason})
        skipped.push({target: target?.name ?? 'stack', probe: `advisor.${definition.id}`, status: 'error', reason})
        options.instrumentation?.advisorEnd?.({...event, durationMs: performance.now() - started, findings: 0, error: reason})
      }
    }
  }
  // A target reached but from which nothing could be read is reported and gated as not read.
  const read = {...snapshot, targets: markUnreadTargets(snapshot.targets, snapshot.readings)}
  // Causes above their symptoms: causeId on each explained finding, the top root causes as the diagnosis.
  const {findings: linked, diagnosis} = diagnose(sortFindings(findings), registry.rules(), read)
  // Checks of a not-read target are not evaluated (target not read), advisor rules included: none passes on nothing.
  const {checks, omitted} = collectChecks(read, linked, evaluation.rulesFor, registry.checkScope(), advisorFailures)
  return buildReport(read, linked, skipped, options.failOn, options.source, {checks, omitted, rules: registry.rules().map(ruleInfo), diagnosis, notRead})
}

/** The gate judges every finding, symptoms explained by a cause included: grouping never turns a red build green. */
export function gatePasses(findings: Finding[], failOn: FailOn): boolean {
  if (failOn === 'never') return true
  return !findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn])
}

/** The fleet summary, only for several targets: a report of one target has no `fleet` key. */
function fleetField(targets: TargetInfo[], findings: Finding[], failOn: FailOn): {fleet?: FleetSummary} {
  const fleet = fleetSummary(targets, findings, failOn)
  return fleet ? {fleet} : {}
}

/** What a report says about its targets and window: a snapshot, or a saved report being re-gated. */
export type ReportBasis = Pick<Snapshot, 'targets' | 'windowSeconds' | 'overhead'>

export function buildReport(basis: ReportBasis, findings: Finding[], skipped: Report['skipped'], failOn: FailOn, source: Report['source'],
  evaluated: {checks: Check[]; omitted: OmittedChecks[]; rules: Report['rules']; diagnosis?: Report['diagnosis']; notRead?: NotReadEntry[]} = {checks: [], omitted: [], rules: []}): Report {
  const summary = {critical: 0, warning: 0, info: 0}
  for (const f of findings) summary[f.severity]++
  const passed = gatePasses(findings, failOn)
  const incomplete = basis.targets.some((t) => t.status !== 'ok') || skipped.some((s) => s.status === 'error')
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: {name: 'chokepoint', version: toolVersion()},
    generatedAt: new Date().toISOString(),
    source,
    windowSeconds: basis.windowSeconds,
    targets: basis.targets,
    ...fleetField(basis.targets, findings, failOn),
    findings,
    diagnosis: evaluated.diagnosis ?? [],
    verdict: pathVerdict(findings, basis.targets, {skipped, notRead: evaluated.notRead ?? []}),
    checks: evaluated.checks,
    checksOmitted: evaluated.omitted,
    rules: evaluated.rules,
    skipped,
    notRead: evaluated.notRead ?? [],
    summary,
    gate: {failOn, passed, incomplete, exitCode: !passed ? 1 : incomplete ? 3 : 0},
    overhead: basis.overhead,
  }
}
