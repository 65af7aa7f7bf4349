/**
 * Throwaway redis-server processes for tests and benchmarks. Tests that assert on INFO counters, maxmemory or
 * the eviction policy need a server nobody else touches, so each call starts its own process on a free port
 * (no persistence: nothing is written to disk) and stop() kills it.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {createConnection} from 'node:net'

export interface StartRedisOptions {
  /** e.g. "10mb"; omitted = unbounded (Redis's default 0). */
  maxmemory?: string
  /** maxmemory-policy, e.g. "allkeys-lru", "noeviction", "allkeys-lfu". */
  policy?: string
  requirepass?: string
  /** Further redis-server arguments, e.g. ['--cluster-enabled', 'yes']. */
  extraArgs?: string[]
  /** Path of the server binary. */
  binary?: string
  /** The port to listen on (default: a free one), e.g. to restart a server where its clients expect it. */
  port?: number
}

export interface RedisServer {
  /** redis://[:password@]127.0.0.1:port */
  url: string
  port: number
  process: ChildProcess
  /** Kills the server (SIGKILL: there is nothing to save) and waits for it to exit. */
  stop(): Promise<void>
}

import {freePort} from './process.js'

export {freePort}

/** Sends PING over a raw socket (with AUTH when needed) and resolves true on +PONG. No client library involved. */
function ping(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({port, host: '127.0.0.1'})
    let buffer = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => {
      // RESP framing, so a password with spaces or quotes needs no escaping.
      if (password) socket.write(`*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`)
      socket.write('*1\r\n$4\r\nPING\r\n')
    })
    socket.on('data', (chunk) => {
      buffer += chunk.toString()
      if (buffer.includes('+PONG')) done(true)
      else if (buffer.includes('-LOADING')) done(false)
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    // A fresh temporary directory is not needed: with --save '' and appendonly no nothing is written (cluster mode
    // writes nodes-<port>.conf, which extraArgs can redirect with --cluster-config-file).
    '--loglevel', 'warning',
    // Tests and benchmarks fill their own servers with DEBUG POPULATE; 'local' allows it from 127.0.0.1 only.
    '--enable-debug-command', 'local']
  if (opts.maxmemory) args.push('--maxmemory', opts.maxmemory)
  if (opts.policy) args.push('--maxmemory-policy', opts.policy)
  if (opts.requirepass) args.push('--requirepass', opts.requirepass)
  args.push(...(opts.extraArgs ?? []))
  const child = spawn(opts.binary ?? '/usr/bin/redis-server', args, {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr?.on('data', (c) => (stderr += c.toString()))
  let exited = false
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true
    resolve()
  }))
  const deadline = Date.now() + 10_000
  while (!(await ping(port, opts.requirepass))) {
    if (exited) throw new Error(`redis-server on port ${port} exited at start: ${stderr.trim()}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s: ${stderr.trim()}`)
    }
    await sleep(25)
  }
  const auth = opts.requirepass ? `:${encodeURIComponent(opts.requirepass)}@` : ''
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (!exited) child.kill('SIGKILL')
      await exitPromise
    },
  }
}
