/**
 * A throwaway PostgreSQL cluster of a test's own (initdb into a temporary directory, a free port, trust
 * authentication on 127.0.0.1), for the faults a test must not inflict on the harness's shared primary: stopping and
 * restarting the server. Runs as the `postgres` OS user (through runuser when the tests run as root), with the
 * server binaries of `pg_config --bindir`. destroy() stops it and removes the directory.
 */
import {execFileSync} from 'node:child_process'
import {chownSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freePort} from './process.js'

const PG_USER = 'postgres'

export interface PrivateCluster {
  /** postgres://postgres@127.0.0.1:port/postgres */
  url: string
  port: number
  dir: string
  start(): void
  /** pg_ctl stop: "fast" ends every session and shuts down cleanly; "immediate" is a crash. */
  stop(mode?: 'fast' | 'immediate'): void
  destroy(): void
}

function asPg(command: string, args: string[]): string {
  const asRoot = process.getuid?.() === 0
  return execFileSync(asRoot ? 'runuser' : command, asRoot ? ['-u', PG_USER, '--', command, ...args] : args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

/** initdb and start a cluster; `settings` are passed as -c name=value (e.g. shared_preload_libraries). */
export async function startPrivateCluster(settings: Record<string, string> = {}): Promise<PrivateCluster> {
  const bin = execFileSync('pg_config', ['--bindir'], {encoding: 'utf8'}).trim()
  const dir = mkdtempSync(join(tmpdir(), 'cp-pg-cluster-'))
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', PG_USER], {encoding: 'utf8'}))
    const gid = Number(execFileSync('id', ['-g', PG_USER], {encoding: 'utf8'}))
    chownSync(dir, uid, gid)
  }
  const data = join(dir, 'data')
  const port = await freePort()
  asPg(join(bin, 'initdb'), ['-D', data, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8'])
  const options = [`-p ${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dir}`, '-c fsync=off',
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ')
  let running = false
  const cluster: PrivateCluster = {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start() {
      asPg(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', '-s', 'start'])
      running = true
    },
    stop(mode = 'fast') {
      asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', '-s', 'stop'])
      running = false
    },
    destroy() {
      try {
        if (running) cluster.stop('immediate')
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  }
  try {
    cluster.start()
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  return cluster
}
