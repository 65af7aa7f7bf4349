/**
 * How a failed connection becomes the one line after "could not connect: ": what went wrong, and what to check.
 * The network failures (refused, unknown host, timed out) read the same for every driver; each driver family adds
 * the refusals of its own protocol: the PostgreSQL protocol (PostgreSQL and PgBouncer), Redis, and HTTP APIs
 * (Prometheus and the RabbitMQ management API).
 */

interface SocketError {
  code?: string
  name?: string
  message?: string
  address?: string
  port?: number
  hostname?: string
  cause?: SocketError
}

/** fetch wraps the socket's error in `cause`; node-postgres and ioredis throw it as it is. */
function socketError(error: unknown): SocketError {
  const e = (error ?? {}) as SocketError
  return e.code || !e.cause ? e : e.cause
}

/**
 * The network part: a refused connection, an unknown host or a timeout, with the fix; undefined for anything
 * else (a refusal by the server itself, which the family describes). `where` is the host:port the driver dialled
 * when it knows it; otherwise the address in the error is named.
 */
export function describeNetworkError(error: unknown, service: string, where?: string): string | undefined {
  const outer = (error ?? {}) as SocketError
  const e = socketError(error)
  const address = where ?? (e.address ? (e.port ? `${e.address}:${e.port}` : e.address) : e.hostname)
  const at = address ? ` (${address})` : ''
  if (e.code === 'ECONNREFUSED') return `connection refused${at}: is ${service} running and the port right?`
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `host not found${at}: check the host name`
  if (e.code === 'ETIMEDOUT' || outer.name === 'TimeoutError' || outer.name === 'AbortError' || /connection timeout|connect timed? ?out|timeout expired/i.test(outer.message ?? '')) {
    return `connection timed out${at}: check that ${service} is reachable from here (host, port, firewall)`
  }
  return undefined
}

/** PostgreSQL and PgBouncer: both speak the PostgreSQL protocol, through node-postgres. */
export function describePgConnectError(error: unknown, service: 'PostgreSQL' | 'PgBouncer', login: {user?: string; where?: string} = {}): string {
  const network = describeNetworkError(error, service === 'PostgreSQL' ? 'the server' : 'PgBouncer', login.where)
  if (network) return network
  const {code, message = String(error)} = (error ?? {}) as {code?: string; message?: string}
  const user = login.user ? ` for user '${login.user}'` : ''
  // 28P01: wrong password. PgBouncer also answers 28000, or only a message, for a user missing from its auth_file.
  if (code === '28P01' || /password authentication failed|SASL authentication failed|no such user/i.test(message) || (service === 'PgBouncer' && code === '28000')) {
    return `${service} refused the login${user}: check the user and password`
  }
  // PostgreSQL's 28000: no pg_hba.conf entry for this host, user and database, or a role that does not exist.
  if (code === '28000') return `${message}: check pg_hba.conf or the user name`
  if (code === '3D000') return `${message}: check the database name in the URL`
  // Logged in, but in neither admin_users nor stats_users.
  if (service === 'PgBouncer' && /not allowed|admin console/i.test(message)) {
    return `PgBouncer refused user${user ? ` '${login.user}'` : ''} on the admin console (${message}): add it to stats_users in pgbouncer.ini`
  }
  return message
}

/** Redis, and every Redis-based reader (queue probes, the keyspace sampler on cluster nodes). */
export function describeRedisError(error: unknown, where?: string): string {
  const network = describeNetworkError(error, 'Redis', where)
  if (network) return network
  const message = (error as {message?: string})?.message ?? String(error)
  if (message.includes('WRONGPASS') || message.includes('NOAUTH')) return 'authentication failed: check the user and password in the URL'
  return message
}

/** An HTTP API (Prometheus, the RabbitMQ management API) that did not answer: fetch's errors, in the same words. */
export function describeHttpError(error: unknown, service: string, url: URL | string): string {
  const host = typeof url === 'string' ? new URL(url).host : url.host
  const network = describeNetworkError(error, service, host)
  if (network) return network
  const e = (error ?? {}) as SocketError
  return String(e.cause?.message ?? e.message ?? error).split('\n')[0]
}

/** MySQL and MariaDB, through mysql2: its error `code`s are the server's ER_* names, or Node's socket codes. */
export function describeMysqlError(error: unknown, login: {user?: string; where?: string; database?: string} = {}): string {
  const e = (error ?? {}) as {code?: string; errno?: number; message?: string; sqlMessage?: string; fatal?: boolean}
  // mysql2's connectTimeout rejects with code ETIMEDOUT and message "connect ETIMEDOUT".
  const network = describeNetworkError(error, 'the server', login.where)
  if (network) return network
  const message = (e.sqlMessage ?? e.message ?? String(error)).split('\n')[0]
  const user = login.user ? ` for user '${login.user}'` : ''
  if (e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR') return `MySQL refused the login${user}: check the user and password`
  if (e.code === 'ER_HOST_NOT_PRIVILEGED') return `${message}: create the user for this client host (CREATE USER ... @'host') or connect from an allowed host`
  if (e.code === 'ER_BAD_DB_ERROR') return `unknown database${login.database ? ` '${login.database}'` : ''}: check the database name in the URL`
  if (e.code === 'ER_DBACCESS_DENIED_ERROR') return `${message}: GRANT the user access to that database, or leave the database out of the URL`
  if (e.code === 'ER_CON_COUNT_ERROR') return 'the server has no free connection slot (max_connections reached): free one or raise max_connections'
  if (e.code === 'PROTOCOL_CONNECTION_LOST' || e.code === 'ECONNRESET') return `the server closed the connection${login.where ? ` (${login.where})` : ''}: is it shutting down or restarting?`
  if (e.code === 'HANDSHAKE_SSL_ERROR' || e.code === 'HANDSHAKE_NO_SSL_SUPPORT' || /SSL|TLS|certificate|secure connection/i.test(message)) return `TLS failed (${message}): check ssl-mode and ssl-ca in the URL`
  return message
}
