/**
 * What OpenTelemetry tracing costs the CLI; results in bench/results/tracing-overhead.json.
 *
 * Cases, each a child process of the built CLI (wall time from spawn to exit, as a user sees it):
 * - `chokepoint --version` without any OTEL_* variable, and with an OTLP endpoint configured (oclif answers
 *   --version before any command runs: both must cost the same);
 * - `chokepoint audit` with no target (a usage error, exit 2, right after the command's context is built): the
 *   start-up cost alone, off and on (on loads the SDK and libpg-query's WASM before the error);
 * - `chokepoint audit --pg <harness primary> --window 0 --format json`: off (no OTEL_*), on (exporting OTLP/JSON to a
 *   receiver in this process, which counts the spans and bytes it got) and disabled (the same endpoint with
 *   OTEL_SDK_DISABLED=true, which must cost what off costs).
 * Every round runs every case once, in a rotating order, so load on the shared machine hits all alike; one warm-up
 * each first; medians, and the on/off differences and ratios of the same run.
 *
 * Prerequisites: `npm run build`, and the test primary of scripts/test-env.sh on 127.0.0.1:25432 (CP_BENCH_PG for
 * another server).
 *
 * Run: npx tsx bench/tracing-overhead/run.ts [--rounds N] [--startup-runs N]
 */
import {spawn} from 'node:child_process'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {existsSync, writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {PRIMARY_URL} from '../../test/helpers/pg.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'tracing-overhead.json')
const BIN = join(ROOT, 'bin', 'run.js')

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '11'))
const STARTUP_RUNS = Number(arg('startup-runs', '21'))
const PG = process.env.CP_BENCH_PG ?? PRIMARY_URL

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/tracing-overhead] ${message}\n`)

/** The variables of the machine that could turn tracing on are removed: each case sets its own. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1'}
  for (const k of Object.keys(env)) if (k.startsWith('OTEL_')) delete env[k]
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NATS_URL', 'PROMETHEUS_URL']) delete env[k]
  return env
}

/** Spawned, not spawnSync: the OTLP receiver in this process must answer while the child runs. */
function time(args: string[], env: Record<string, string>): Promise<{ms: number; code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: {...baseEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({ms: performance.now() - started, code, stdout, stderr}))
  })
}

/** An OTLP/HTTP receiver that answers at once and counts what it got. */
async function startReceiver(): Promise<{url: string; posts: number; bytes: number; spans: number; close(): Promise<void>}> {
  const state = {posts: 0, bytes: 0, spans: 0}
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      state.posts += 1
      state.bytes += Buffer.byteLength(body)
      state.spans += (body.match(/"spanId"/g) ?? []).length
      res.writeHead(200, {'content-type': 'application/json'}).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(state, {url, close: () => new Promise<void>((r) => server.close(() => r()))})
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` first')
  const receiver = await startReceiver()
  const on = {OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'}
  const disabled = {...on, OTEL_SDK_DISABLED: 'true'}
  const audit = ['audit', '--pg', PG, '--window', '0', '--format', 'json']
  const startupCases: Record<string, {args: string[]; env: Record<string, string>; code: number}> = {
    versionOff: {args: ['--version'], env: {}, code: 0},
    versionOn: {args: ['--version'], env: on, code: 0},
    auditNoTargetOff: {args: ['audit'], env: {}, code: 2},
    auditNoTargetOn: {args: ['audit'], env: on, code: 2},
  }
  const auditCases: Record<string, {args: string[]; env: Record<string, string>}> = {
    auditOff: {args: audit, env: {}},
    auditOn: {args: audit, env: on},
    auditDisabled: {args: audit, env: disabled},
  }
  const loadStart = loadavg()

  const run = async (cases: Record<string, {args: string[]; env: Record<string, string>; code?: number}>, rounds: number) => {
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
    const names = Object.keys(cases)
    for (const name of names) await time(cases[name].args, cases[name].env) // warm-up: file cache, WASM compile cache
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length]
        const c = cases[name]
        const spansBefore = receiver.spans
        const result = await time(c.args, c.env)
        // exit 0, 1 or 3 are audits that ran (findings or an unread probe); anything else is a broken case.
        const ok = c.code !== undefined ? result.code === c.code : [0, 1, 3].includes(result.code ?? -1)
        if (!ok) throw new Error(`${name} exited ${result.code}: ${result.stderr.slice(0, 400)}`)
        if (name === 'auditOn' && receiver.spans === spansBefore) throw new Error('auditOn sent no span: is tracing broken?')
        if (name !== 'auditOn' && receiver.spans !== spansBefore) throw new Error(`${name} sent spans: tracing should be off`)
        times[name].push(result.ms)
      }
    }
    return times
  }

  log(`startup: ${STARTUP_RUNS} rounds of ${Object.keys(startupCases).join(', ')}`)
  const startup = await run(startupCases, STARTUP_RUNS)
  const spansBefore = receiver.spans
  const bytesBefore = receiver.bytes
  log(`audit of ${PG.replace(/:[^:@/]*@/, ':***@')}: ${ROUNDS} rounds of ${Object.keys(auditCases).join(', ')}`)
  const audits = await run(auditCases, ROUNDS)
  const spansPerAudit = round((receiver.spans - spansBefore) / (ROUNDS + 1), 0)
  const bytesPerAudit = Math.round((receiver.bytes - bytesBefore) / (ROUNDS + 1))
  await receiver.close()

  const medians = Object.fromEntries(Object.entries({...startup, ...audits}).map(([k, v]) => [k, round(median(v))]))
  const results = {
    generatedAt: new Date().toISOString(),
    machine: {cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadAverageAtStart: loadStart.map((x) => round(x, 2)), loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
      note: 'Two cores shared with other engineers\' test runs: compare the cases of this run with each other, not with other runs.'},
    method: [
      `Child processes of bin/run.js, wall time from spawn to exit. ${STARTUP_RUNS} rounds of the start-up cases, then ${ROUNDS} rounds of the audit cases; each round runs every case once in a rotating order, after one warm-up each; medians.`,
      'off: no OTEL_* variable. on: OTEL_EXPORTER_OTLP_ENDPOINT to an OTLP/HTTP receiver in the benchmark process, OTEL_EXPORTER_OTLP_PROTOCOL=http/json. disabled: on plus OTEL_SDK_DISABLED=true.',
      'auditNoTarget: `chokepoint audit` without a target, a usage error right after the command\'s context (and, when on, the SDK) is set up: the start-up cost alone.',
      `The audit: the harness primary with --window 0 --format json; the receiver counted ${spansPerAudit} spans and ${bytesPerAudit} bytes of OTLP JSON per traced audit.`,
    ],
    medianMs: medians,
    differenceMs: {
      version: round(medians.versionOn - medians.versionOff),
      startup: round(medians.auditNoTargetOn - medians.auditNoTargetOff),
      audit: round(medians.auditOn - medians.auditOff),
      auditDisabled: round(medians.auditDisabled - medians.auditOff),
    },
    ratio: {
      version: round(medians.versionOn / medians.versionOff, 2),
      startup: round(medians.auditNoTargetOn / medians.auditNoTargetOff, 2),
      audit: round(medians.auditOn / medians.auditOff, 2),
      auditDisabled: round(medians.auditDisabled / medians.auditOff, 2),
    },
    tracedAudit: {spans: spansPerAudit, otlpJsonBytes: bytesPerAudit},
    allMs: Object.fromEntries(Object.entries({...startup, ...audits}).map(([k, v]) => [k, v.map((x) => Math.round(x))])),
  }
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify({medianMs: results.medianMs, differenceMs: results.differenceMs, ratio: results.ratio, tracedAudit: results.tracedAudit}, null, 2)}\n`)
}

main().catch((error) => {
  log(error instanceof Error ? error.message : String(error))
  process.exitCode = 1
})
