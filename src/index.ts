/**
 * chokepoint as a library: the same audit the CLI runs, without oclif.
 *
 *   import {runAudit, renderReport} from 'chokepoint'
 *   const {report} = await runAudit({targets: [{name: 'db', kind: 'postgres', url}], windowSeconds: 5, failOn: 'critical'})
 *   console.log(await renderReport(report, 'markdown'))
 *
 * `registry` defaults to the built-in plugin (add your own with builtinRegistry(myPlugin)), and `secrets` to a new
 * registry for this call.
 */
import {builtinRegistry} from './builtin.js'
import {newSecrets} from './cli/context.js'
import * as audit from './core/audit.js'
import * as capture from './core/capture.js'
import * as render from './core/render.js'
import type {Registry} from './core/registry.js'
import type {Secrets} from './core/secrets.js'
import type {Report, Snapshot, TargetSpec} from './core/types.js'

type Defaulted<T> = Omit<T, 'registry' | 'secrets'> & {registry?: Registry; secrets?: Secrets}

const withDefaults = <T extends {registry?: Registry; secrets?: Secrets}>(options: T) =>
  ({...options, registry: options.registry ?? builtinRegistry(), secrets: options.secrets ?? newSecrets()})

export function runAudit(options: Defaulted<audit.AuditOptions>): Promise<{report: Report; snapshot: Snapshot}> {
  return audit.runAudit(withDefaults(options))
}

export function analyseSnapshot(snapshot: Snapshot, options: Defaulted<audit.AnalyseOptions>): Promise<Report> {
  return audit.analyseSnapshot(snapshot, withDefaults(options))
}

export function captureSnapshot(targets: TargetSpec[], options: Defaulted<capture.CaptureOptions>): Promise<Snapshot> {
  return capture.captureSnapshot(targets, withDefaults(options))
}

export function renderReport(report: Report, format: string, options: Defaulted<render.RenderContext> = {}): Promise<string> {
  return render.renderReport(report, format, withDefaults(options))
}

export {buildReport, gatePasses} from './core/audit.js'
export {CaptureSession} from './core/capture.js'
export {Limiter, defaultConcurrency} from './core/limiter.js'
export {selectTargets, matchesTargetGlob} from './core/selection.js'
export {fleetSummary} from './core/fleet.js'
export type {FleetSummary, FleetGroup, FleetFinding} from './core/fleet.js'
export {builtinPlugin, builtinRegistry} from './builtin.js'
export {definePlugin} from './core/plugin.js'
export type {PluginDefinition, TargetKindDefinition, AdvisorDefinition, ReporterDefinition, ApplierDefinition, OptionSpec} from './core/plugin.js'
export {Registry} from './core/registry.js'
export {readingKey, readingsOf, dataOf} from './core/readings.js'
export type {ReadingKey} from './core/readings.js'
export type {Instrumentation, CommandEvent, TargetEvent} from './core/instrumentation.js'
export {loadConfigFile, validateConfig, resolveTargets, effectiveRules} from './core/config.js'
export type {ChokepointConfig, RuleSetting} from './core/config.js'
export {loadRules} from './core/rules.js'
export type {RuleDefinition, EffectiveRule} from './core/rules.js'
export {readSavedDocument} from './core/snapshot-io.js'
export {ConfigError, UsageError, ProbeSkip} from './core/errors.js'
export type {Probe, ProbeContext, ProbeOutput, Driver} from './core/probe.js'
export {CommandLog} from './core/probe.js'
export type {Advisor, AdvisorContext, AdvisorFinding} from './core/advisor.js'
export type {Reporter, ReporterContext, RenderOptions} from './core/reporter.js'
export type {Applier, ApplyContext, ApplyOptions, AppliedChange, ChangePlan, ChangeRecord, Journal, PreflightResult, RollbackResult, Verification} from './core/applier.js'
export {ApplyRefusal} from './core/applier.js'
export type {Secrets} from './core/secrets.js'
export type * from './core/types.js'

import type {ChokepointConfig} from './core/config.js'

/** Types a config object (for chokepoint.config.json generation or programmatic use). */
export function defineConfig(config: ChokepointConfig): ChokepointConfig {
  return config
}
