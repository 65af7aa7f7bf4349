/**
 * One NATS connection per target, used only for JetStream's management API ($JS.API.STREAM.* and CONSUMER.*
 * INFO/LIST requests): nothing is fetched, consumed or acknowledged. Every request is counted.
 */
import {connect} from '@nats-io/transport-node'
import {jetstreamManager, type JetStreamManager} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import {CommandLog, type Driver} from '../core/probe.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'

export class NatsSession {
  private manager?: Promise<JetStreamManager>

  constructor(readonly nc: NatsConnection, readonly log: CommandLog) {}

  /** The JetStream manager; rejects when JetStream is not enabled for this account. */
  jsm(): Promise<JetStreamManager> {
    if (!this.manager) {
      this.log.record('$JS.API.INFO')
      // checkAPI makes one $JS.API.INFO request, so a server without JetStream is told apart at once.
      this.manager = jetstreamManager(this.nc, {checkAPI: true})
      this.manager.catch(() => (this.manager = undefined))
    }
    return this.manager
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => {})
  }
}

/** nats://[user:pass@ | token@]host:port */
export function natsConnectOptions(target: TargetSpec, secrets?: Secrets) {
  const url = new URL(target.url)
  const user = decodeURIComponent(url.username)
  const pass = decodeURIComponent(url.password)
  secrets?.register(pass)
  const opts: {servers: string; timeout: number; name: string; maxReconnectAttempts: number; user?: string; pass?: string; token?: string} = {
    servers: `${url.hostname}:${url.port || 4222}`,
    timeout: Number(target.options?.timeoutMs ?? 5000),
    name: 'chokepoint',
    maxReconnectAttempts: 0,
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
  async connect(target: TargetSpec, log: CommandLog, secrets?: Secrets) {
    let nc: NatsConnection
    try {
      log.record('CONNECT')
      nc = await connect(natsConnectOptions(target, secrets))
    } catch (error) {
      const message = String((error as Error).message ?? error)
      if (/authorization/i.test(message)) throw new Error('NATS refused the login: check the user, password or token in the URL')
      // The capture scrubs this with the audit's secrets (the token above included).
      throw new Error(`could not connect to NATS: ${message}`)
    }
    return {conn: new NatsSession(nc, log), facts: {version: nc.info?.version, jetstream: nc.info?.jetstream ?? false, server: nc.info?.server_name}}
  },
  close: (session) => session.close(),
}
