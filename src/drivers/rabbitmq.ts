/**
 * One RabbitMQ target: the management HTTP API when it answers (GET only), and an AMQP connection opened only
 * when a passive queue.declare is needed. Nothing is ever consumed, fetched or acknowledged. Every HTTP request
 * and AMQP method is counted in the CommandLog.
 */
import amqp from 'amqplib'
import type {Channel, ChannelModel} from 'amqplib'
import {CommandLog, type Driver} from '../core/probe.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'
import {describeHttpError, describeNetworkError} from './connect-errors.js'

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

export class RabbitSession {
  management: RabbitManagement
  private connection?: ChannelModel
  private channelPromise?: Promise<Channel>

  constructor(readonly endpoints: RabbitEndpoints, readonly log: CommandLog, readonly timeoutMs = 5000) {
    this.management = {available: false, baseUrl: endpoints.managementUrl}
  }

  get vhost(): string {
    return this.endpoints.amqp.vhost
  }

  /** GET a management API path; throws with the HTTP status on anything but 2xx. */
  async getJson<T>(path: string): Promise<T> {
    this.log.record(`GET ${path.split('?')[0]}`)
    const response = await fetch(`${this.endpoints.managementUrl}${path}`, {
      headers: {authorization: `Basic ${Buffer.from(`${this.endpoints.user}:${this.endpoints.password}`).toString('base64')}`, accept: 'application/json'},
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    if (!response.ok) {
      const error = new Error(`GET ${path.split('?')[0]}: HTTP ${response.status} ${response.statusText}`) as Error & {status?: number}
      error.status = response.status
      await response.body?.cancel().catch(() => {})
      throw error
    }
    return (await response.json()) as T
  }

  async openAmqp(): Promise<ChannelModel> {
    if (this.connection) return this.connection
    const {amqp: a, user, password} = this.endpoints
    this.log.record('AMQP connection.open')
    try {
      this.connection = await amqp.connect({protocol: a.protocol, hostname: a.hostname, port: a.port, vhost: a.vhost, username: user, password, heartbeat: 0}, {timeout: this.timeoutMs})
    } catch (error) {
      if (isLoginRefused(error)) throw new RabbitLoginRefused(user)
      throw new Error((`AMQP connection failed: ${describeNetworkError(error, 'RabbitMQ', `${a.hostname}:${a.port}`) ?? `${(error as Error).message} (${a.hostname}:${a.port})`}`))
    }
    this.connection.on('error', () => {})
    return this.connection
  }

  private async channel(): Promise<Channel> {
    if (!this.channelPromise) {
      this.channelPromise = (async () => {
        const connection = await this.openAmqp()
        this.log.record('AMQP channel.open')
        const ch = await connection.createChannel()
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
    this.log.record(`AMQP queue.declare passive ${queue}`)
    try {
      const reply = await ch.checkQueue(queue)
      return {messageCount: reply.messageCount, consumerCount: reply.consumerCount}
    } catch (error) {
      const message = String((error as Error).message)
      return {error: /404|NOT_FOUND/.test(message) ? `queue '${queue}' not found in vhost '${this.vhost}'` : message.split('\n')[0]}
    }
  }

  async close(): Promise<void> {
    const connection = this.connection
    this.connection = undefined
    this.channelPromise = undefined
    await connection?.close().catch(() => {})
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
  async connect(target: TargetSpec, log: CommandLog, secrets?: Secrets) {
    const session = new RabbitSession(rabbitEndpoints(target, secrets), log, Number(target.options?.timeoutMs ?? 5000))
    const user = session.endpoints.user
    try {
      const overview = await session.getJson<{rabbitmq_version?: string; management_version?: string; rates_mode?: string; cluster_name?: string}>('/api/overview')
      session.management = {available: true, baseUrl: session.endpoints.managementUrl, version: overview.rabbitmq_version, ratesMode: overview.rates_mode}
      return {conn: session, facts: {version: overview.rabbitmq_version, management: true, ratesMode: overview.rates_mode, cluster: overview.cluster_name, vhost: session.vhost}}
    } catch (error) {
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
  },
  close: (session) => session.close(),
}
