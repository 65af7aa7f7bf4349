import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join, resolve} from 'node:path'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
const BIN = join(REPO_ROOT, 'bin', 'run.js')

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

/** Runs the built CLI (`npm run build` first) as a user would, in a child process with its own environment. */
export function runCli(args: string[], options: {env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number} = {}): CliResult {
  if (!existsSync(join(REPO_ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` before the CLI tests')
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, ...options.env})) if (v !== undefined) env[k] = v
  // The tests decide which targets exist: ambient variables must not add any.
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NATS_URL', 'PROMETHEUS_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD']) {
    if (!options.env || !(k in options.env)) delete env[k]
  }
  const result = spawnSync(process.execPath, [BIN, ...args], {cwd: options.cwd ?? REPO_ROOT, env, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000})
  return {status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr}
}
