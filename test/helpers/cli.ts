import {spawn, spawnSync, type ChildProcessByStdio} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import type {Readable} from 'node:stream'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
const BIN = join(REPO_ROOT, 'bin', 'run.js')

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

/** Runs the built CLI (`npm run build` first) as a user would, in a child process with its own environment. */
export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  timeoutMs?: number
}

function cliEnv(options: CliOptions): Record<string, string> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` before the CLI tests')
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, ...options.env})) if (v !== undefined) env[k] = v
  // The tests decide which targets exist: ambient variables must not add any.
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NATS_URL', 'PROMETHEUS_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD']) {
    if (!options.env || !(k in options.env)) delete env[k]
  }
  return env
}

export function runCli(args: string[], options: CliOptions = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {cwd: options.cwd ?? REPO_ROOT, env: cliEnv(options), encoding: 'utf8', timeout: options.timeoutMs ?? 120_000})
  return {status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr}
}

/** The built CLI as a child process the test drives itself (a long-running `watch`): stdout and stderr piped. */
export function spawnCli(args: string[], options: CliOptions = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? REPO_ROOT, env: cliEnv(options), stdio: ['ignore', 'pipe', 'pipe']})
}

export interface TimedCliResult extends CliResult {
  /** Wall time from spawn to exit. */
  ms: number
  /** The process outlived timeoutMs and was killed. */
  killed: boolean
}

/**
 * The same, without blocking this process: what a test needs when it serves the CLI's targets itself (a fault proxy
 * in this process). A run that outlives timeoutMs is killed (SIGKILL: the CLI's own cleanup is what is under test).
 */
export function runCliAsync(args: string[], options: CliOptions = {}): Promise<TimedCliResult> {
  const started = performance.now()
  const child = spawnCli(args, options)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  let killed = false
  const timer = setTimeout(() => {
    killed = true
    child.kill('SIGKILL')
  }, options.timeoutMs ?? 120_000)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({status: code ?? -1, stdout, stderr, ms: performance.now() - started, killed})
    })
  })
}

/**
 * A working directory and a lock directory of a test's own for `chokepoint apply` runs (journals land in the working
 * directory; locks never meet another test's), the CLI run in them, and remove() for afterAll.
 */
export function applyWorkspace(name: string): {work: string; env: Record<string, string>; cli(args: string[]): CliResult; remove(): void} {
  const work = mkdtempSync(join(tmpdir(), `cp-${name}-`))
  const lockDir = mkdtempSync(join(tmpdir(), `cp-${name}-locks-`))
  const env = {CHOKEPOINT_LOCK_DIR: lockDir}
  return {
    work,
    env,
    cli: (args) => runCli(args, {cwd: work, env}),
    remove() {
      rmSync(work, {recursive: true, force: true})
      rmSync(lockDir, {recursive: true, force: true})
    },
  }
}
