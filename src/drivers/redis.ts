import {Redis} from 'ioredis'
import {CommandLog, ConnectionLost, DeadlineExceeded, formatMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import type {TargetSpec} from '../core/types.js'
import {describeRedisError} from './connect-errors.js'

/** Client-side bounds of a Redis connection (see docs/design.md section 7). */
export const REDIS_DEFAULTS = {
  /** The TCP connect (ioredis's connectTimeout: its error names the address, for a host that drops packets). */
  connectTimeoutMs: 5000,
  /** The whole login: TCP, then AUTH, CLIENT SETNAME and the ready check, which ioredis's connectTimeout leaves out. */
  loginTimeoutMs: 7000,
  /** Each command, and each command of a pipeline. */
  commandTimeoutMs: 10_000,
  keepAliveDelayMs: 10_000,
}

/** Ends the client (no reconnect) and destroys its socket without waiting for the server to close its side. */
function dropClient(client: Redis): void {
  client.disconnect()
  client.stream?.destroy()
}

/**
 * What ioredis sent on connect, in one round trip: HELLO (protocol 3, with AUTH inside) or AUTH, SELECT for a
 * database other than 0, and CLIENT SETNAME. Recorded as a pipeline so the overhead report counts each command.
 */
function handshakeText(client: Redis): string {
  const {protocol, password, db, connectionName} = client.options
  const commands = [protocol === 3 ? 'HELLO' : password ? 'AUTH' : undefined, db ? 'SELECT' : undefined, connectionName ? 'CLIENT SETNAME' : undefined]
    .filter((c): c is string => Boolean(c))
  return `pipeline ${commands.join(', ')} x${commands.length}`
}

/** ioredis rejects a command past commandTimeout with exactly this message. */
const COMMAND_TIMED_OUT = 'Command timed out'

/**
 * One Redis connection, with every command counted. No reconnects and no offline queue: a server that goes
 * away mid-sample must fail the probe that was reading, not hang it or replay its commands later. A command that
 * outlives its timeout drops the connection: the replies still owed would otherwise answer the next commands.
 */
export class RedisSession {
  /** Why the connection was dropped (a command that outlived its timeout): every later command fails at once. */
  lost?: string

  constructor(readonly client: Redis, readonly log: CommandLog) {}

  static async open(url: string, log = new CommandLog(), connect: ConnectOptions = {}): Promise<RedisSession> {
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: REDIS_DEFAULTS.connectTimeoutMs,
      commandTimeout: REDIS_DEFAULTS.commandTimeoutMs,
      keepAlive: REDIS_DEFAULTS.keepAliveDelayMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectionName: 'chokepoint',
      // The probes read INFO themselves; ioredis's own ready check and library tags would be commands the
      // overhead report cannot see.
      enableReadyCheck: false,
      disableClientInfo: true,
    })
    // ioredis rejects connect() with a bare "Connection is closed." and reports the cause (WRONGPASS, NOAUTH,
    // ECONNREFUSED) only through the 'error' event: keep the last one to name the real reason.
    let lastError: unknown
    client.on('error', (error) => {
      lastError = error
    })
    const onAbort = () => dropClient(client)
    connect.signal?.addEventListener('abort', onAbort, {once: true})
    try {
      await withDeadline(client.connect(), REDIS_DEFAULTS.loginTimeoutMs, 'from Redis while connecting', () => dropClient(client))
    } catch (error) {
      dropClient(client)
      if (error instanceof DeadlineExceeded) throw error
      throw new Error(describeRedisError(lastError ?? error, `${client.options.host}:${client.options.port}`))
    } finally {
      connect.signal?.removeEventListener('abort', onAbort)
    }
    log.record(handshakeText(client), 1)
    return new RedisSession(client, log)
  }

  private timedOut(): DeadlineExceeded {
    this.abort(`no answer from Redis within ${formatMs(REDIS_DEFAULTS.commandTimeoutMs)}`)
    return new DeadlineExceeded('from Redis', REDIS_DEFAULTS.commandTimeoutMs)
  }

  /** Sends one command; arguments are strings or numbers as redis-cli would take them. */
  async send<T = unknown>(command: string, ...args: Array<string | number | Buffer>): Promise<T> {
    if (this.lost) throw new ConnectionLost(this.lost)
    try {
      return (await this.log.run(`${command} ${args.slice(0, 2).map(String).join(' ')}`.trim(), () => this.client.call(command, ...args))) as T
    } catch (error) {
      if ((error as Error)?.message === COMMAND_TIMED_OUT) throw this.timedOut()
      throw error
    }
  }

  /** Runs commands in one round trip (a pipeline, not a transaction); each entry is [error, result]. */
  async pipeline(commands: Array<[string, ...Array<string | number>]>): Promise<Array<[Error | null, unknown]>> {
    if (commands.length === 0) return []
    if (this.lost) throw new ConnectionLost(this.lost)
    const kinds = [...new Set(commands.map((c) => c[0]))].join('/')
    const pipe = this.client.pipeline()
    for (const [command, ...args] of commands) pipe.call(command, ...args)
    const results = ((await this.log.run(`pipeline ${kinds} x${commands.length}`, () => pipe.exec())) ?? []) as Array<[Error | null, unknown]>
    // A pipeline reports each command's timeout as that command's error, not as a failure of the whole.
    if (results.some(([error]) => error?.message === COMMAND_TIMED_OUT)) throw this.timedOut()
    return results
  }

  /** Drops the connection now: disconnect() alone half-closes and waits up to 2 s for the server's side. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    dropClient(this.client)
  }

  async close(): Promise<void> {
    this.client.disconnect()
  }
}

export const redisDriver: Driver<RedisSession> = {
  kind: 'redis',
  async connect(target: TargetSpec, log: CommandLog, _secrets, connect) {
    const session = await RedisSession.open(target.url, log, connect)
    try {
      const info = await session.send<string>('INFO', 'server')
      const version = /redis_version:(\S+)/.exec(info)?.[1]
      const mode = /redis_mode:(\S+)/.exec(info)?.[1]
      return {conn: session, facts: {version, mode}}
    } catch (error) {
      session.abort()
      throw error
    }
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}
