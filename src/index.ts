/**
 * chokepoint as a library: the same audit the CLI runs, without oclif.
 *
 *   import {runAudit, defineConfig} from 'chokepoint'
 *   const {report} = await runAudit({targets: [{name: 'db', kind: 'postgres', url}], windowSeconds: 5, failOn: 'critical'})
 */
export {runAudit, analyseSnapshot, buildReport, gatePasses} from './core/audit.js'
export type {AuditOptions, AnalyseOptions} from './core/audit.js'
export {captureSnapshot} from './core/capture.js'
export {loadConfigFile, validateConfig, resolveTargets, effectiveRules} from './core/config.js'
export type {ChokepointConfig, RuleSetting} from './core/config.js'
export {loadRules} from './core/rules.js'
export type {RuleDefinition, EffectiveRule} from './core/rules.js'
export {readSavedDocument} from './core/snapshot-io.js'
export {renderReport, REPORT_FORMATS} from './reporters/index.js'
export type {ReportFormat} from './reporters/index.js'
export {ConfigError, UsageError, ProbeSkip} from './core/errors.js'
export type {Probe, ProbeContext, ProbeOutput, Driver} from './core/probe.js'
export type {Advisor, AdvisorContext, AdvisorFinding} from './core/advisor.js'
export type * from './core/types.js'

import type {ChokepointConfig} from './core/config.js'

/** Types a config object (for chokepoint.config.json generation or programmatic use). */
export function defineConfig(config: ChokepointConfig): ChokepointConfig {
  return config
}
