import {Redis} from 'ioredis'
import {CommandLog, type Driver} from '../core/probe.js'
import type {TargetSpec} from '../core/types.js'
import {describeRedisError} from './connect-errors.js'

/**
 * One Redis connection, with every command counted. No reconnects and no offline queue: a server that goes
 * away mid-sample must fail the probe that was reading, not hang it or replay its commands later.
 */
export class RedisSession {
  constructor(readonly client: Redis, readonly log: CommandLog) {}

  static async open(url: string, log = new CommandLog()): Promise<RedisSession> {
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 5000,
      commandTimeout: 10_000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectionName: 'chokepoint',
    })
    // ioredis rejects connect() with a bare "Connection is closed." and reports the cause (WRONGPASS, NOAUTH,
    // ECONNREFUSED) only through the 'error' event: keep the last one to name the real reason.
    let lastError: unknown
    client.on('error', (error) => {
      lastError = error
    })
    try {
      await client.connect()
    } catch (error) {
      client.disconnect()
      throw new Error(describeRedisError(lastError ?? error, `${client.options.host}:${client.options.port}`))
    }
    return new RedisSession(client, log)
  }

  /** Sends one command; arguments are strings or numbers as redis-cli would take them. */
  async send<T = unknown>(command: string, ...args: Array<string | number | Buffer>): Promise<T> {
    this.log.record(`${command} ${args.slice(0, 2).map(String).join(' ')}`.trim())
    return (await this.client.call(command, ...args)) as T
  }

  /** Runs commands in one round trip (a pipeline, not a transaction); each entry is [error, result]. */
  async pipeline(commands: Array<[string, ...Array<string | number>]>): Promise<Array<[Error | null, unknown]>> {
    if (commands.length === 0) return []
    const kinds = [...new Set(commands.map((c) => c[0]))].join('/')
    this.log.record(`pipeline ${kinds} x${commands.length}`)
    const pipe = this.client.pipeline()
    for (const [command, ...args] of commands) pipe.call(command, ...args)
    return ((await pipe.exec()) ?? []) as Array<[Error | null, unknown]>
  }

  async close(): Promise<void> {
    this.client.disconnect()
  }
}

export const redisDriver: Driver<RedisSession> = {
  kind: 'redis',
  async connect(target: TargetSpec, log: CommandLog) {
    const session = await RedisSession.open(target.url, log)
    const info = await session.send<string>('INFO', 'server')
    const version = /redis_version:(\S+)/.exec(info)?.[1]
    const mode = /redis_mode:(\S+)/.exec(info)?.[1]
    return {conn: session, facts: {version, mode}}
  },
  close: (session) => session.close(),
}
