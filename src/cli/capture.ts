import {rulesByTarget} from '../core/audit.js'
import {captureSnapshot} from '../core/capture.js'
import {unreadTargets} from '../core/coverage.js'
import {checkOutputFile, writeOutput} from '../core/snapshot-io.js'
import type {Snapshot} from '../core/types.js'
import type {CliContext} from './context.js'
import {resolveRun, runProgress, type CommonFlags} from './options.js'

export async function captureToFile(flags: CommonFlags & {output?: string; verbose?: boolean; quiet?: boolean}, ctx: CliContext): Promise<Snapshot> {
  checkOutputFile(flags.output)
  const run = await resolveRun(flags, {needTargets: true}, ctx)
  const {log, progress} = runProgress(flags, ctx)
  const snapshot = await captureSnapshot(run.targets, {...ctx, windowSeconds: run.windowSeconds, concurrency: run.concurrency, skipProbes: run.config.skipProbes, log, progress,
    rulesFor: rulesByTarget(run.config, ctx.registry)})
  writeOutput(`${JSON.stringify(snapshot, null, 2)}\n`, flags.output, ctx.secrets)
  if (flags.output) log(`snapshot written to ${flags.output}: ${snapshot.readings.length} readings from ${snapshot.targets.length} targets`)
  if (flags.verbose) {
    for (const entry of snapshot.overhead ?? []) process.stderr.write(`${entry.target}: ${entry.roundTrips} round trips\n`)
  }
  // As the audit's gate: a target reached but from which nothing could be read leaves the snapshot incomplete too.
  const incomplete = snapshot.targets.some((t) => t.status !== 'ok') || snapshot.readings.some((r) => r.status === 'error')
    || unreadTargets(snapshot.targets, snapshot.readings).size > 0
  process.exitCode = incomplete ? 3 : 0
  return snapshot
}
