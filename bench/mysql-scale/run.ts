/**
 * MySQL/MariaDB audit at scale; results in bench/results/mysql-scale.json.
 *
 * Issue 14 asks that an audit of a MariaDB with 1,000 tables and 2,000 statement digests take no more round trips
 * than one with 10 tables, and finish in under 1.5 s. Each case is a private mariadbd (test/helpers/mariadb.ts, so
 * the harness's shared digests do not mix in) with N tables and 2N distinct statements run once each, audited
 * through runAudit with every mysql probe, window 0 (the window itself is a sleep, not work) and window 1 s (baselines
 * included; its duration less the window is reported). Baseline of the same run: the 10-table case.
 *
 * Run: npx tsx bench/mysql-scale/run.ts [--rounds N]   (needs mariadb-install-db and /usr/sbin/mariadbd)
 */
import {writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {runAudit} from '../../src/index.js'
import {mariadbConnect, startPrivateMariadb} from '../../test/helpers/mariadb.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'mysql-scale.json')
const BUDGET_MS = 1500
const CASES = [10, 1000]

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '5'))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function runCase(tables: number) {
  const server = await startPrivateMariadb({'performance-schema-digests-size': '10000', 'performance-schema-consumer-events-statements-current': 'ON'})
  try {
    const conn = await mariadbConnect(server.url)
    await conn.query('CREATE DATABASE bench')
    for (let i = 0; i < tables; i += 100) {
      const batch = Array.from({length: Math.min(100, tables - i)}, (_, j) => `CREATE TABLE bench.t${i + j} (id INT PRIMARY KEY, a INT, b VARCHAR(20), KEY (a)) ENGINE=InnoDB`)
      await conn.query(batch.join('; '))
    }
    // Two distinct digests per table: an indexed lookup and a scan.
    for (let i = 0; i < tables; i++) await conn.query(`SELECT id FROM bench.t${i} WHERE a = 1; SELECT COUNT(*) FROM bench.t${i} WHERE b = 'x'`)
    const [[{digests}]] = await conn.query('SELECT COUNT(*) AS digests FROM performance_schema.events_statements_summary_by_digest') as unknown as [[{digests: number}]]
    await conn.end()
    const target = {name: 'm', kind: 'mysql', url: server.url, options: {}}
    const measure = async (windowSeconds: number) => {
      const times: number[] = []
      let roundTrips = 0
      for (let r = 0; r < ROUNDS; r++) {
        const started = performance.now()
        const {report, snapshot} = await runAudit({targets: [target], windowSeconds, failOn: 'never'})
        times.push(performance.now() - started - windowSeconds * 1000)
        roundTrips = (report.overhead ?? snapshot.overhead ?? [])[0]?.roundTrips ?? -1
        const bad = snapshot.readings.filter((x) => x.status !== 'ok')
        if (bad.length) throw new Error(`readings not ok: ${bad.map((x) => `${x.probe}: ${x.reason}`).join('; ')}`)
      }
      return {medianMs: Math.round(median(times)), maxMs: Math.round(Math.max(...times)), roundTrips}
    }
    return {tables, digests: Number(digests), window0: await measure(0), window1s: await measure(1)}
  } finally {
    server.destroy()
  }
}

const results = []
for (const tables of CASES) {
  const r = await runCase(tables)
  console.error(`${tables} tables, ${r.digests} digests: window 0 ${r.window0.medianMs} ms (${r.window0.roundTrips} round trips), window 1 s ${r.window1s.medianMs} ms beyond the window (${r.window1s.roundTrips} round trips)`)
  results.push(r)
}
const [small, large] = results
const verdict = {
  sameRoundTrips: small.window0.roundTrips === large.window0.roundTrips && small.window1s.roundTrips === large.window1s.roundTrips,
  underBudget: large.window0.medianMs < BUDGET_MS && large.window1s.medianMs < BUDGET_MS,
  budgetMs: BUDGET_MS,
}
writeFileSync(RESULTS, `${JSON.stringify({benchmark: 'mysql-scale', date: new Date().toISOString(), rounds: ROUNDS, cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100), results, verdict}, null, 2)}\n`)
console.error(JSON.stringify(verdict))
if (!verdict.sameRoundTrips || !verdict.underBudget) process.exitCode = 1
