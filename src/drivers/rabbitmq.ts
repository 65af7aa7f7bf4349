/**
 * One RabbitMQ target: the management HTTP API when it answers (GET only), and an AMQP connection opened only
 * when a passive queue.declare is needed. Nothing is ever consumed, fetched or acknowledged. Every HTTP request
 * and AMQP method is counted in the CommandLog.
 */
import amqp from 'amqplib'
import type {Channel, ChannelModel} from 'amqplib'
import {CommandLog, ConnectionLost, DeadlineExceeded, followAbort, formatMs, positiveMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'
import {describeHttpError, describeNetworkError} from './connect-errors.js'
import {requestDeadline} from './http.js'

export interface RabbitManagement {
  available: boolean
  /** Why it is not available: not reachable, refused this user, ... */
  reason?: string
  baseUrl: string
  version?: string
  ratesMode?: string
}

export class RabbitLoginRefused extends Error {
  constructor(user: string) {
    super(`RabbitMQ refused the login for user '${user}': check the user and password`)
    this.name = 'RabbitLoginRefused'
  }
}

export interface RabbitEndpoints {
  amqp: {protocol: 'amqp' | 'amqps'; hostname: string; port: number; vhost: string}
  user: string
  password: string
  managementUrl: string
}

/** amqp://user:pass@host:5672/vhost (vhost percent-encoded, default '/'); the management URL defaults to http://host:15672. */
export function rabbitEndpoints(target: TargetSpec, secrets?: Secrets): RabbitEndpoints {
  const url = new URL(target.url)
  const user = decodeURIComponent(url.username || 'guest')
  const password = decodeURIComponent(url.password || 'guest')
  secrets?.register(password)
  const isHttp = url.protocol === 'http:' || url.protocol === 'https:'
  const path = url.pathname.replace(/^\//, '')
  const vhost = isHttp ? String(target.options?.vhost ?? '/') : path ? decodeURIComponent(path) : '/'
  const managementUrl = String(target.options?.managementUrl ?? (isHttp ? `${url.protocol}//${url.host}` : `http://${url.hostname}:15672`)).replace(/\/+$/, '')
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp'
  const port = isHttp ? Number(target.options?.amqpPort ?? 5672) : Number(url.port || (protocol === 'amqps' ? 5671 : 5672))
  return {amqp: {protocol, hostname: url.hostname, port, vhost}, user, password, managementUrl}
}

function isLoginRefused(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error)
  return /ACCESS[-_]REFUSED|403/.test(message) && /login|refused|auth/i.test(message)
}

/** The socket under an amqplib connection, destroyed when the broker stalls: amqplib's close() waits for close-ok. */
function destroyAmqp(connection: ChannelModel): void {
  (connection as unknown as {connection?: {stream?: {destroy(): void}}}).connection?.stream?.destroy()
}

function isTimeout(error: unknown): boolean {
  const name = (error as {name?: string})?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

export class RabbitSession {
  management: RabbitManagement
  private connection?: ChannelModel
  private channelPromise?: Promise<Channel>
  /** Aborts every management request in flight (abort(), or the connect's signal). */
  private readonly aborter = new AbortController()
  /** Why the target was given up on (a request or AMQP method that outlived its timeout): later ones fail at once. */
  lost?: string

  /** timeoutMs bounds each management request (headers and body), the AMQP connect and each AMQP method. */
  constructor(readonly endpoints: RabbitEndpoints, readonly log: CommandLog, readonly timeoutMs = 5000) {
    this.management = {available: false, baseUrl: endpoints.managementUrl}
  }

  get vhost(): string {
    return this.endpoints.amqp.vhost
  }

  /** Follows `signal` (the capture giving up on this target while it connects). */
  linkAbort(signal?: AbortSignal): () => void {
    return followAbort(signal, () => this.abort('the capture gave up on this target'))
  }

  /** Drops everything now: requests in flight and the AMQP socket. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    this.aborter.abort()
    if (this.connection) destroyAmqp(this.connection)
    this.connection = undefined
    this.channelPromise = undefined
  }

  /** Gives up on the target after `what` stalled: the error the capture sees, with later calls failing at once. */
  private stalled(what: string): DeadlineExceeded {
    this.abort(`no answer from RabbitMQ within ${formatMs(this.timeoutMs)} (${what})`)
    return new DeadlineExceeded(`from RabbitMQ (${what})`, this.timeoutMs)
  }

  /**
   * GET a management API path; throws with the HTTP status on anything but 2xx. A request that outlives timeoutMs
   * gives up on the target, unless `fallback` (the connect's probe of the API, where AMQP can still stand in).
   */
  async getJson<T>(path: string, {fallback = false} = {}): Promise<T> {
    if (this.lost) throw new ConnectionLost(this.lost)
    const what = `GET ${path.split('?')[0]}`
    const deadline = requestDeadline(this.timeoutMs, this.aborter.signal)
    try {
      // Timed to the end of the body: that is the request's cost, and its failure, in the overhead and the traces.
      return await this.log.run(what, async () => {
        const response = await fetch(`${this.endpoints.managementUrl}${path}`, {
          headers: {authorization: `Basic ${Buffer.from(`${this.endpoints.user}:${this.endpoints.password}`).toString('base64')}`, accept: 'application/json'},
          signal: deadline.signal,
        })
        if (!response.ok) {
          const error = new Error(`${what}: HTTP ${response.status} ${response.statusText}`) as Error & {status?: number}
          error.status = response.status
          await response.body?.cancel().catch(() => {})
          throw error
        }
        // Under the same signal as the request: a body that stalls halfway is abandoned too.
        return (await response.json()) as T
      })
    } catch (error) {
      if (this.lost) throw new ConnectionLost(this.lost)
      if (isTimeout(error) && !fallback) throw this.stalled(what)
      throw error
    } finally {
      deadline.done()
    }
  }

  async openAmqp(): Promise<ChannelModel> {
    if (this.lost) throw new ConnectionLost(this.lost)
    if (this.connection) return this.connection
    const {amqp: a, user, password} = this.endpoints
    this.log.record('AMQP connection.open')
    // amqplib's timeout is an idle timeout on the socket until the handshake ends; the whole connect gets a second more.
    const connecting = amqp.connect({protocol: a.protocol, hostname: a.hostname, port: a.port, vhost: a.vhost, username: user, password, heartbeat: 0},
      {timeout: this.timeoutMs, keepAlive: true, keepAliveDelay: 10_000})
    try {
      this.connection = await withDeadline(connecting, this.timeoutMs + 1000, 'from RabbitMQ while connecting (AMQP)',
        () => connecting.then(destroyAmqp, () => {}))
    } catch (error) {
      if (error instanceof DeadlineExceeded) throw error
      if (isLoginRefused(error)) throw new RabbitLoginRefused(user)
      throw new Error((`AMQP connection failed: ${describeNetworkError(error, 'RabbitMQ', `${a.hostname}:${a.port}`) ?? `${(error as Error).message} (${a.hostname}:${a.port})`}`))
    }
    this.connection.on('error', () => {})
    // The capture gave up while the handshake was under way.
    if (this.lost) {
      destroyAmqp(this.connection)
      throw new ConnectionLost(this.lost)
    }
    return this.connection
  }

  /** An AMQP method's reply within timeoutMs; past it, the connection is destroyed (amqplib has no RPC timeout). */
  private method<T>(what: string, call: Promise<T>): Promise<T> {
    return withDeadline(call, this.timeoutMs, `from RabbitMQ (${what})`, () => this.abort(`no answer from RabbitMQ within ${formatMs(this.timeoutMs)} (${what})`))
  }

  private async channel(): Promise<Channel> {
    if (!this.channelPromise) {
      this.channelPromise = (async () => {
        const connection = await this.openAmqp()
        this.log.record('AMQP channel.open')
        const ch = await this.method('AMQP channel.open', connection.createChannel())
        // A passive declare of a missing queue closes the channel (404); the next check opens a fresh one.
        ch.on('error', () => {})
        ch.on('close', () => (this.channelPromise = undefined))
        return ch
      })()
      this.channelPromise.catch(() => (this.channelPromise = undefined))
    }
    return this.channelPromise
  }

  /** AMQP queue.declare with passive=true: ready count and consumer count, or why the queue could not be read. */
  async passiveDeclare(queue: string): Promise<{messageCount: number; consumerCount: number} | {error: string}> {
    const ch = await this.channel()
    try {
      const reply = await this.log.run(`AMQP queue.declare passive ${queue}`, () => this.method('AMQP queue.declare', ch.checkQueue(queue)))
      return {messageCount: reply.messageCount, consumerCount: reply.consumerCount}
    } catch (error) {
      // A stall is the target's, not this queue's: the capture must see it.
      if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
      const message = String((error as Error).message)
      return {error: /404|NOT_FOUND/.test(message) ? `queue '${queue}' not found in vhost '${this.vhost}'` : message.split('\n')[0]}
    }
  }

  async close(): Promise<void> {
    const connection = this.connection
    this.connection = undefined
    this.channelPromise = undefined
    if (!connection) return
    if (this.lost) return destroyAmqp(connection)
    // close() waits for the broker's close-ok, which a stalled broker never sends.
    await withDeadline(connection.close(), 2000, 'to connection.close', () => destroyAmqp(connection)).catch(() => destroyAmqp(connection))
  }
}

/**
 * Connects by asking the management API for its overview. A 401 there is told apart: if AMQP accepts the same
 * credentials the user merely lacks a management tag (the API is then treated as absent); if AMQP refuses them too,
 * the login is wrong and the target cannot be audited. Without the API, AMQP is opened now so a wrong password or
 * a broker that is down fails the target at connect time.
 */
export const rabbitmqDriver: Driver<RabbitSession> = {
  kind: 'rabbitmq',
  async connect(target: TargetSpec, log: CommandLog, secrets?: Secrets, connect?: ConnectOptions) {
    const session = new RabbitSession(rabbitEndpoints(target, secrets), log, positiveMs(target.options?.timeoutMs) ?? 5000)
    const unlink = session.linkAbort(connect?.signal)
    try {
      return await connectRabbit(session)
    } finally {
      unlink()
    }
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}

async function connectRabbit(session: RabbitSession) {
  const user = session.endpoints.user
  try {
    const overview = await session.getJson<{rabbitmq_version?: string; management_version?: string; rates_mode?: string; cluster_name?: string}>('/api/overview', {fallback: true})
    session.management = {available: true, baseUrl: session.endpoints.managementUrl, version: overview.rabbitmq_version, ratesMode: overview.rates_mode}
    return {conn: session, facts: {version: overview.rabbitmq_version, management: true, ratesMode: overview.rates_mode, cluster: overview.cluster_name, vhost: session.vhost}}
  } catch (error) {
    if (error instanceof ConnectionLost) throw error
    const status = (error as {status?: number}).status
    const reason = status === 401
      ? `the management API refused user '${user}' (a user needs the 'monitoring' tag to read it)`
      : status ? `the management API answered HTTP ${status}` : `the management API did not answer (${describeHttpError(error, 'the management plugin', session.endpoints.managementUrl)})`
    session.management = {available: false, baseUrl: session.endpoints.managementUrl, reason}
  }
  try {
    await session.openAmqp()
  } catch (error) {
    await session.close()
    throw error
  }
  return {conn: session, facts: {management: false, managementReason: session.management.reason, vhost: session.vhost}}
}
