import type {RenderOptions, ReporterContext} from '../../../src/core/reporter.js'
import type {Report} from '../../../src/core/types.js'

/** What a reporter is given for this report. */
export function contextOf(report: Report, options: Partial<RenderOptions> = {}): ReporterContext {
  return {report, rules: report.rules, options: {color: false, verbose: false, ...options}}
}

/** A report with one finding of each severity, a remedy with SQL, a skipped probe and an unreachable target. */
export function sampleReport(overrides: Partial<Report> = {}): Report {
  return {
    schemaVersion: 3,
    tool: {name: 'chokepoint', version: '0.1.0'},
    generatedAt: '2026-11-21T00:00:00.000Z',
    source: 'live',
    windowSeconds: 5,
    targets: [
      {name: 'primary', kind: 'postgres', url: 'postgres://app:<password removed>@db:5432/shop', status: 'ok'},
      {name: 'cache', kind: 'redis', url: 'redis://cache:6379', status: 'error', error: 'could not connect: connection refused'},
    ],
    findings: [
      {id: 'a1', rule: 'replication/lag', severity: 'critical', area: 'replication', target: 'primary', subject: 'replica-1',
        metric: 'replication.lag_seconds', value: 12, threshold: {target: '<= 1s', action: '> 5s'},
        message: 'replica-1 is 12 s behind the primary; the replay stage lags', evidence: {stage: 'replay'},
        remedies: [{id: 'replica-000000000001', kind: 'replica', summary: 'Check pg_is_wal_replay_paused()', applier: null}]},
      {id: 'b2', rule: 'database/unused-index', severity: 'warning', area: 'database', target: 'primary', subject: '"public"."orders_note_idx"',
        metric: 'db.index.unused_bytes', value: 1024, threshold: {target: null, action: '> 0'},
        message: 'index | with pipe is unused', evidence: {},
        remedies: [{id: 'drop-index-000000000002', kind: 'drop-index', summary: 'Drop it', index: '"public"."orders_note_idx"', reason: 'unused', sql: 'DROP INDEX CONCURRENTLY "public"."orders_note_idx";', applier: null}]},
      {id: 'c3', rule: 'cache/hit-rate', severity: 'info', area: 'cache', target: 'primary', subject: 'x', metric: 'cache.hit_rate',
        value: 0.5, threshold: {target: '>= 80%', action: '< 70%'}, message: 'advice', evidence: {}, remedies: []},
    ],
    diagnosis: [],
    checks: [
      {rule: 'replication/lag', target: 'primary', subject: 'replica-1', status: 'critical', value: 12, threshold: {target: '<= 1s', action: '> 5s'}, finding: 'a1'},
      {rule: 'replication/lag', target: 'primary', subject: 'replica-2', status: 'ok', value: 0.1, threshold: {target: '<= 1s', action: '> 5s'}},
      {rule: 'database/slow-statement', target: 'primary', subject: 'primary', status: 'not-evaluated', value: null, threshold: {target: '< 100ms', action: '> 500ms'},
        reason: 'postgres.statements skipped: pg_stat_statements is not installed'},
    ],
    checksOmitted: [{rule: 'replication/lag', target: 'primary', ok: 3}],
    rules: [{id: 'replication/lag', title: 'Replication lag', area: 'replication', description: 'How far a standby is behind.', docs: '', kind: 'threshold',
      metric: 'replication.lag_seconds', unit: 'seconds', thresholds: {target: '<= 1s', action: '> 5s'}}],
    skipped: [{target: 'primary', probe: 'postgres.statements', status: 'skipped', reason: 'pg_stat_statements is not installed'}],
    summary: {critical: 1, warning: 1, info: 1},
    gate: {failOn: 'critical', passed: false, incomplete: true, exitCode: 1},
    overhead: [{target: 'primary', roundTrips: 9, commands: [{probe: 'postgres.connections', text: 'SELECT ...', count: 1}]}],
    ...overrides,
  }
}
