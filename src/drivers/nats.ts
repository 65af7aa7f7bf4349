/**
 * One NATS connection per target, used only for JetStream's management API ($JS.API.STREAM.* and CONSUMER.*
 * INFO/LIST requests): nothing is fetched, consumed or acknowledged. Every request is counted.
 */
import {NatsConnectionImpl, setTransportFactory, type ConnectionOptions, type NatsConnection, type Transport} from '@nats-io/transport-node'
// The Node transport itself: the package exports only a connect() that installs it unmodified.
import {NodeTransport, nodeResolveHost} from '@nats-io/transport-node/lib/node_transport.js'
import {jetstreamManager, type JetStreamManager} from '@nats-io/jetstream'
import {createConnection, type Socket} from 'node:net'
import {CommandLog, ConnectionLost, DeadlineExceeded, formatMs, positiveMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'

/** Client-side bounds of a NATS connection (see docs/design.md section 7); timeoutMs overrides the first two. */
export const NATS_DEFAULTS = {
  /** The connect: TCP, the server's INFO, CONNECT and the first PONG. */
  connectTimeoutMs: 5000,
  /** Each request ($JS.API.*). */
  requestTimeoutMs: 5000,
  keepAliveDelayMs: 10_000,
  closeGraceMs: 2000,
}

/** The connect option through which the capture's abort signal reaches the transport dialling for that connect. */
const ABORT_SIGNAL = 'chokepointAbortSignal'

/**
 * nats.js's Node transport leaves its socket open when a connect fails before the handshake completed (its close()
 * returns at once unless connected): against a server that accepts and never sends INFO the process stayed alive
 * for good, and against one that drops packets until the kernel gave up dialling (over two minutes). This one
 * destroys the socket then, turns TCP keepalive on, and follows the capture's abort signal.
 */
class SafeNodeTransport extends NodeTransport {
  /** The socket while it dials: the parent keeps it in a local until connected, out of discard()'s reach. */
  private dialing?: Socket

  /** The parent's dial, keeping hold of the socket. */
  override dial(hp: {hostname: string; port: number}): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      let dialError: Error | undefined
      const socket = createConnection(hp.port, hp.hostname, () => {
        socket.removeAllListeners()
        this.dialing = undefined
        resolve(socket)
      })
      this.dialing = socket
      socket.on('error', (error) => {
        dialError = error
      })
      socket.on('close', () => {
        socket.removeAllListeners()
        reject(dialError ?? new Error('connection closed while dialling'))
      })
      socket.setNoDelay(true)
    })
  }

  override discard(): void {
    this.dialing?.destroy()
    this.dialing = undefined
    super.discard()
  }

  override async connect(hp: {hostname: string; port: number; tlsName: string}, options: Parameters<NodeTransport['connect']>[1]): Promise<void> {
    const signal = (options as Record<string, unknown>)[ABORT_SIGNAL] as AbortSignal | undefined
    const onAbort = () => this.discard()
    signal?.addEventListener('abort', onAbort, {once: true})
    try {
      if (signal?.aborted) throw new Error('the capture gave up on this target')
      await super.connect(hp, options)
      this.socket?.setKeepAlive(true, NATS_DEFAULTS.keepAliveDelayMs)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  override close(err?: Error): Promise<void> {
    if (!this.connected) {
      this.discard()
      return Promise.resolve()
    }
    return super.close(err)
  }
}

/** connect() of @nats-io/transport-node, with the transport above. */
function natsConnect(options: ConnectionOptions & {[ABORT_SIGNAL]?: AbortSignal}): Promise<NatsConnection> {
  setTransportFactory({factory: (): Transport => new SafeNodeTransport(), dnsResolveFn: nodeResolveHost})
  return NatsConnectionImpl.connect(options)
}

function isTimeout(error: unknown): boolean {
  return (error as {name?: string})?.name === 'TimeoutError'
}

export class NatsSession {
  private manager?: Promise<JetStreamManager>
  /** Why the connection was dropped (a request that outlived its timeout): every later request fails at once. */
  lost?: string

  constructor(readonly nc: NatsConnection, readonly log: CommandLog, readonly timeoutMs = NATS_DEFAULTS.requestTimeoutMs) {
    // JetStream's manager sends every API call through nc.request (with our timeout): a timeout there means the
    // server or the wire stalled, so the connection is dropped and the capture told, rather than waited on again.
    const request = nc.request.bind(nc)
    nc.request = async (...args: Parameters<NatsConnection['request']>) => {
      if (this.lost) throw new ConnectionLost(this.lost)
      try {
        return await request(...args)
      } catch (error) {
        if (!isTimeout(error)) throw error
        this.abort(`no answer from NATS within ${formatMs(this.timeoutMs)} (${args[0]})`)
        throw new DeadlineExceeded(`from NATS (${args[0]})`, this.timeoutMs)
      }
    }
  }

  /** The JetStream manager; rejects when JetStream is not enabled for this account. */
  jsm(): Promise<JetStreamManager> {
    if (this.lost) return Promise.reject(new ConnectionLost(this.lost))
    if (!this.manager) {
      this.log.record('$JS.API.INFO')
      // checkAPI makes one $JS.API.INFO request, so a server without JetStream is told apart at once.
      this.manager = jetstreamManager(this.nc, {checkAPI: true, timeout: this.timeoutMs})
      this.manager.catch(() => (this.manager = undefined))
    }
    return this.manager
  }

  /** Drops the connection now: no flush, no waiting for the server. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    ;(this.nc as unknown as {protocol?: {transport?: Transport}}).protocol?.transport?.discard()
    void this.nc.close().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.lost) return this.abort()
    await withDeadline(this.nc.close(), NATS_DEFAULTS.closeGraceMs, 'to close', () => this.abort()).catch(() => this.abort())
  }
}

/** nats://[user:pass@ | token@]host:port */
export function natsConnectOptions(target: TargetSpec, secrets?: Secrets) {
  const url = new URL(target.url)
  const user = decodeURIComponent(url.username)
  const pass = decodeURIComponent(url.password)
  secrets?.register(pass)
  const opts: {servers: string; timeout: number; name: string; maxReconnectAttempts: number; reconnect: boolean; user?: string; pass?: string; token?: string} = {
    servers: `${url.hostname}:${url.port || 4222}`,
    timeout: positiveMs(target.options?.timeoutMs) ?? NATS_DEFAULTS.connectTimeoutMs,
    name: 'chokepoint',
    maxReconnectAttempts: 0,
    // A connection that drops fails the probe reading; a reconnect would only retry against the same stall.
    reconnect: false,
  }
  if (user && pass) Object.assign(opts, {user, pass})
  else if (user) {
    // nats://token@host: a lone user part is a token.
    secrets?.register(user)
    opts.token = user
  }
  return opts
}

export const natsDriver: Driver<NatsSession> = {
  kind: 'nats',
  async connect(target: TargetSpec, log: CommandLog, secrets?: Secrets, connect?: ConnectOptions) {
    let nc: NatsConnection
    const options = natsConnectOptions(target, secrets)
    try {
      log.record('CONNECT')
      nc = await natsConnect({...options, [ABORT_SIGNAL]: connect?.signal})
    } catch (error) {
      const message = String((error as Error).message ?? error)
      if (/authorization/i.test(message)) throw new Error('NATS refused the login: check the user, password or token in the URL')
      if (isTimeout(error)) throw new Error(`could not connect to NATS: no answer from ${options.servers} within ${formatMs(options.timeout)}: check that NATS is reachable from here (host, port, firewall)`)
      // The capture scrubs this with the audit's secrets (the token above included).
      throw new Error(`could not connect to NATS: ${message}`)
    }
    return {conn: new NatsSession(nc, log, options.timeout), facts: {version: nc.info?.version, jetstream: nc.info?.jetstream ?? false, server: nc.info?.server_name}}
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}
