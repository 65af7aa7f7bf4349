import {UsageError} from '../core/errors.js'
import {parseDurationSeconds} from '../core/units.js'
import {WatchLoop} from '../core/watch.js'
import {WatchMetrics} from '../core/watch-metrics.js'
import {startWatchServer} from '../core/watch-server.js'
import {combineInstrumentation} from '../core/instrumentation.js'
import type {CliContext} from './context.js'
import {progressLogger, resolveRun, type CommonFlags} from './options.js'

export const DEFAULT_WATCH_INTERVAL = '60s'
export const DEFAULT_WATCH_LISTEN = '127.0.0.1:9187'

export interface WatchFlags extends CommonFlags {
  interval?: string
  listen?: string
  verbose?: boolean
}

function parseInterval(text: string): number {
  const seconds = parseDurationSeconds(text)
  if (seconds === null || seconds < 1 || seconds > 3600) throw new UsageError(`--interval: expected a duration from 1s to 1h like 30s or 5m, got "${text}"`)
  return seconds
}

function parseListen(text: string): {host: string; port: number} {
  const at = text.lastIndexOf(':')
  const host = (at > 0 ? text.slice(0, at) : '127.0.0.1').replace(/^\[(.*)\]$/, '$1')
  const port = Number(at >= 0 ? text.slice(at + 1) : text)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--listen: expected HOST:PORT like 127.0.0.1:9187, got "${text}"`)
  return {host, port}
}

/**
 * Audits every --interval on kept connections and serves the results until SIGTERM or SIGINT (exit 0); SIGHUP
 * reloads the config file (targets and rules) and starts again with fresh connections.
 */
export async function runWatch(flags: WatchFlags, ctx: CliContext): Promise<void> {
  const intervalSeconds = parseInterval(flags.interval ?? DEFAULT_WATCH_INTERVAL)
  const {host, port} = parseListen(flags.listen ?? DEFAULT_WATCH_LISTEN)
  // Status lines go to stderr always: a long-running service's log is where they are read.
  const log = progressLogger(true, ctx)
  const quietLog = flags.verbose ? log : () => {}
  // Subjects become label values: they are scrubbed like the report is.
  const metrics = new WatchMetrics({scrub: (text) => ctx.secrets.scrub(text)})
  let latestReport: string | undefined
  const wasUp = new Map<string, boolean>()
  const startLoop = async () => {
    const run = await resolveRun(flags, {needTargets: true}, ctx)
    metrics.setGroups(run.targets)
    const loop = new WatchLoop({registry: ctx.registry, secrets: ctx.secrets, config: run.config, targets: run.targets, intervalSeconds, failOn: run.failOn, concurrency: run.concurrency,
      log: quietLog, instrumentation: combineInstrumentation(metrics.instrumentation(), ctx.instrumentation)})
    void loop.start((audit) => {
      metrics.record(audit)
      latestReport = ctx.secrets.scrub(`${JSON.stringify(audit.report, null, 2)}\n`)
      for (const [target, up] of audit.up) {
        // Only changes are logged: a target down for hours must not write a line per interval.
        if (wasUp.get(target) !== up) log(`${target}: ${up ? 'up' : 'down'}`)
        wasUp.set(target, up)
      }
    }).catch((error) => log(`watch loop stopped: ${error instanceof Error ? error.message : String(error)}`))
    log(`watching ${run.targets.map((t) => t.name).join(', ')} every ${intervalSeconds}s`)
    return loop
  }
  let loop = await startLoop()
  let server: Awaited<ReturnType<typeof startWatchServer>>
  try {
    server = await startWatchServer(host, port, {
      metrics: async () => ({body: await metrics.registry.metrics(), contentType: metrics.registry.contentType}),
      report: () => latestReport,
    })
  } catch (error) {
    await loop.stop()
    throw new UsageError(`--listen ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const shown = server.address.family === 'IPv6' ? `[${server.address.address}]` : server.address.address
  log(`listening on http://${shown}:${server.address.port} (/metrics, /report, /healthz)`)

  await new Promise<void>((resolve) => {
    let stopping = false
    // Reloads run one after another, and a stop waits for the one under way: never two loops, never one left running.
    let reloading = Promise.resolve()
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      log(`${signal}: stopping`)
      void Promise.all([server.close(), reloading.then(() => loop.stop())]).finally(resolve)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', () => {
      if (stopping) return
      log('SIGHUP: reloading the config')
      reloading = reloading.then(async () => {
        if (stopping) return
        await loop.stop()
        try {
          loop = await startLoop()
        } catch (error) {
          // A config that no longer loads keeps nothing running against stale settings: stop, as for a bad start.
          log(`reload failed: ${error instanceof Error ? error.message : String(error)}; stopping`)
          process.exitCode = 2
          stop('reload failure')
        }
      })
    })
  })
}
