/**
 * A real Prometheus per test (scripts/start-prometheus.sh: scrape and rule evaluation interval 1 s, job "app", one
 * target, optionally a rules file), on a free port with its TSDB in a temp dir. stop() kills exactly the pid the
 * script reported and removes the dir.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {freePort, stopProcess} from './process.js'

const SCRIPT = resolve(import.meta.dirname, '../../scripts/start-prometheus.sh')

/** One alert as /api/v1/alerts lists it (pending or firing; resolved alerts are not listed). */
export interface PrometheusAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
  value: string
}

export interface PrometheusServer {
  url: string
  /** The alerts of the loaded rules that are pending or firing now. */
  alerts(): Promise<PrometheusAlert[]>
  /** Instant query; returns the result vector. */
  query(promql: string): Promise<Array<{metric: Record<string, string>; value: [number, string]}>>
  /** Polls (bounded) until `promql` returns a series whose value satisfies `ok`. */
  waitFor(promql: string, ok: (value: number) => boolean, what: string, attempts?: number): Promise<number>
  stop(): Promise<void>
}

export async function startPrometheus(scrapeTarget: string, options: {rulesFile?: string} = {}): Promise<PrometheusServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'chokepoint-prometheus-'))
  const pid = Number(execFileSync('bash', [SCRIPT, String(port), scrapeTarget, dir, ...(options.rulesFile ? [options.rulesFile] : [])], {encoding: 'utf8'}).trim())
  const url = `http://127.0.0.1:${port}`
  const query = async (promql: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
    const body = (await res.json()) as {data: {result: Array<{metric: Record<string, string>; value: [number, string]}>}}
    return body.data.result
  }
  return {
    url,
    query,
    async alerts() {
      const res = await fetch(`${url}/api/v1/alerts`)
      return ((await res.json()) as {data: {alerts: PrometheusAlert[]}}).data.alerts
    },
    async waitFor(promql, ok, what, attempts = 120) {
      let last: number | undefined
      for (let i = 0; i < attempts; i++) {
        const result = await query(promql)
        last = result.length ? Number(result[0].value[1]) : undefined
        if (last !== undefined && ok(last)) return last
        await new Promise((r) => setTimeout(r, 250))
      }
      throw new Error(`Prometheus never showed ${what} (${promql} = ${last})`)
    },
    async stop() {
      await stopProcess(pid, 10000)
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
