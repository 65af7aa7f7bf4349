/**
 * A TCP proxy the tests control, in front of a real server, to inject the network failures production has: a wire
 * that stalls (after the connect, or halfway through an answer), a delay on every packet, a black hole that
 * accepts and never answers, and resets. Faults can be set now or when the client sends something that matches a
 * pattern (a probe's query), so a test picks the exact moment of the audit at which the target fails.
 *
 * And a port that drops packets (startSynBlackhole): a listener whose accept queue is full, so the kernel drops
 * every further SYN and the client's connect hangs until its own timeout, as behind a firewall that drops.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {connect as netConnect, createServer, type Server, type Socket} from 'node:net'
import {freePort, stopProcess} from './process.js'

export interface StallOptions {
  /** Bytes still forwarded to the client before the freeze (default 0: freeze at once). */
  afterBytes?: number
  /** Forward the next answer chunk except its last `holdBack` bytes, then freeze: the client holds part of a result. */
  holdBack?: number
}

/** A client chunk (latin1) and its index on its connection (0 = the first bytes the client sent). */
export type ChunkMatcher = RegExp | ((chunk: string, index: number) => boolean)

interface Link {
  client: Socket
  upstream?: Socket
  frozen: boolean
  /** Bytes left before the freeze, toward the client; undefined: no freeze pending. */
  budget?: number
  holdBack?: number
  /** When the last delayed chunk of each direction is due, so a delay keeps the order. */
  due: {up: number; down: number}
}

type Mode = {kind: 'forward'} | {kind: 'delay'; ms: number} | {kind: 'stall'} | {kind: 'drop'} | {kind: 'reset'}

export interface FaultProxy {
  port: number
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string
  forward(): void
  /** Every chunk, both ways, is forwarded `ms` later (order kept). */
  delay(ms: number): void
  /**
   * Live connections stop forwarding in both directions (after `afterBytes` more to the client, or all of the
   * next answer chunk but `holdBack` bytes) and stay open; new connections are accepted and never answered.
   */
  stall(options?: StallOptions): void
  /** A black hole: connections (live and new) are kept open, what the client sends is read and discarded. */
  drop(): void
  /** Every live connection is reset (RST), and so is every new one. */
  reset(): void
  /** Runs `action` once, when a client first sends a chunk that matches (before that chunk is forwarded). */
  when(match: ChunkMatcher, action: () => void): void
  /** The matchers of the `when`s that fired, in order: a test checks its fault was really injected. */
  fired: string[]
  /** Connections accepted so far. */
  accepted: number
  close(): Promise<void>
}

export async function startFaultProxy(upstream: {host?: string; port: number}): Promise<FaultProxy> {
  const port = await freePort()
  const host = upstream.host ?? '127.0.0.1'
  const links = new Set<Link>()
  const triggers: Array<{match: ChunkMatcher; action: () => void; fired: boolean}> = []
  let mode: Mode = {kind: 'forward'}
  let accepted = 0
  const fired: string[] = []

  const write = (link: Link, direction: 'up' | 'down', chunk: Buffer) => {
    const to = direction === 'up' ? link.upstream : link.client
    if (!to || to.destroyed) return
    if (mode.kind !== 'delay') {
      to.write(chunk)
      return
    }
    const at = Math.max(Date.now() + mode.ms, link.due[direction])
    link.due[direction] = at
    setTimeout(() => {
      if (!link.frozen && !to.destroyed) to.write(chunk)
    }, at - Date.now())
  }

  const freeze = (link: Link) => {
    link.frozen = true
    link.budget = undefined
    link.holdBack = undefined
  }

  const resetLink = (link: Link) => {
    link.client.resetAndDestroy()
    link.upstream?.destroy()
    links.delete(link)
  }

  const server: Server = createServer((client) => {
    accepted++
    client.on('error', () => {})
    const link: Link = {client, frozen: false, due: {up: 0, down: 0}}
    if (mode.kind === 'reset') {
      client.resetAndDestroy()
      return
    }
    links.add(link)
    client.on('close', () => {
      link.upstream?.destroy()
      links.delete(link)
    })
    if (mode.kind === 'stall' || mode.kind === 'drop') {
      // Accepted, never answered: the server behind is not even dialled.
      freeze(link)
      client.on('data', () => {})
      return
    }
    const up = netConnect({host, port: upstream.port})
    link.upstream = up
    up.on('error', () => {})
    up.on('close', () => {
      // A frozen link keeps the client waiting, whatever the server behind did.
      if (!link.frozen) client.destroy()
    })
    let index = 0
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1')
      for (const t of triggers) {
        if (t.fired) continue
        if (typeof t.match === 'function' ? t.match(text, index) : t.match.test(text)) {
          t.fired = true
          t.action()
        }
      }
      index++
      if (link.frozen) return
      write(link, 'up', chunk)
    })
    up.on('data', (chunk: Buffer) => {
      if (link.frozen) return
      if (link.holdBack !== undefined) {
        const keep = Math.max(0, chunk.length - link.holdBack)
        write(link, 'down', chunk.subarray(0, keep))
        freeze(link)
        return
      }
      if (link.budget !== undefined) {
        if (chunk.length >= link.budget) {
          write(link, 'down', chunk.subarray(0, link.budget))
          freeze(link)
          return
        }
        link.budget -= chunk.length
      }
      write(link, 'down', chunk)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({port, host: '127.0.0.1'}, () => resolve())
  })

  return {
    port,
    fired,
    get accepted() {
      return accepted
    },
    url(url: string) {
      const u = new URL(url)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.toString()
    },
    forward() {
      mode = {kind: 'forward'}
    },
    delay(ms: number) {
      mode = {kind: 'delay', ms}
    },
    stall(options: StallOptions = {}) {
      mode = {kind: 'stall'}
      for (const link of links) {
        if (options.holdBack !== undefined) link.holdBack = options.holdBack
        else if (options.afterBytes) link.budget = options.afterBytes
        else freeze(link)
      }
    },
    drop() {
      mode = {kind: 'drop'}
      for (const link of links) freeze(link)
    },
    reset() {
      mode = {kind: 'reset'}
      for (const link of [...links]) resetLink(link)
    },
    when(match: ChunkMatcher, action: () => void) {
      triggers.push({match, fired: false, action: () => {
        fired.push(String(match))
        action()
      }})
    },
    async close() {
      for (const link of [...links]) {
        link.client.destroy()
        link.upstream?.destroy()
      }
      links.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface SynBlackhole {
  port: number
  stop(): Promise<void>
}

/**
 * A port that drops packets. A child process listens with an accept queue of one and never accepts (its thread
 * sleeps in Atomics.wait, using no CPU); two connections fill the queue, and from then on the kernel drops every SYN.
 */
export async function startSynBlackhole(): Promise<SynBlackhole> {
  const port = await freePort()
  const script = `const s = require('node:net').createServer(); s.listen({port: ${port}, host: '127.0.0.1', backlog: 1}, () => {
    process.stdout.write('ready\\n'); setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 20) })`
  const child: ChildProcess = spawn(process.execPath, ['-e', script], {stdio: ['ignore', 'pipe', 'inherit']})
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`blackhole exited with ${code}`)))
    child.stdout!.once('data', () => resolve())
  })
  await new Promise((r) => setTimeout(r, 100))
  const fillers: Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = netConnect({host: '127.0.0.1', port})
    s.on('error', () => {})
    fillers.push(s)
    await new Promise<void>((resolve) => s.once('connect', () => resolve()))
  }
  // A third SYN must now go unanswered, or the port is not dropping yet.
  const probe = netConnect({host: '127.0.0.1', port})
  probe.on('error', () => {})
  const answered = await new Promise<boolean>((resolve) => {
    probe.once('connect', () => resolve(true))
    setTimeout(() => resolve(false), 500)
  })
  probe.destroy()
  if (answered) throw new Error('startSynBlackhole: the kernel still completes connections to the full queue')
  return {
    port,
    async stop() {
      for (const s of fillers) s.destroy()
      // No SIGTERM handler is installed, so the signal ends the process even while its thread sleeps.
      if (child.pid) await stopProcess(child.pid)
    },
  }
}
