import {describe, expect, it} from 'vitest'
import {freePort} from '../../helpers/process.js'
import {PgBouncerSession} from '../../../src/drivers/pgbouncer.js'
import {PgSession} from '../../../src/drivers/postgres.js'
import {PrometheusSession} from '../../../src/drivers/prometheus.js'
import {RedisSession} from '../../../src/drivers/redis.js'
import {describeHttpError, describeNetworkError, describePgConnectError, describeRedisError} from '../../../src/drivers/connect-errors.js'

const failure = (promise: Promise<unknown>) => promise.then(() => {
  throw new Error('expected the connection to fail')
}, (error: Error) => error.message)

describe('connection errors', () => {
  it('say the same thing for a refused port whichever client dialled it, with the address and the fix', async () => {
    const port = await freePort()
    const at = `127.0.0.1:${port}`
    expect(await failure(PgSession.open(`postgres://app@${at}/db`))).toBe(`connection refused (${at}): is the server running and the port right?`)
    expect(await failure(PgBouncerSession.open(`postgres://stats@${at}/db`))).toBe(`connection refused (${at}): is PgBouncer running and the port right?`)
    expect(await failure(RedisSession.open(`redis://${at}`))).toBe(`connection refused (${at}): is Redis running and the port right?`)
    const prom = PrometheusSession.fromTarget({name: 'p', kind: 'prometheus', url: `http://${at}`})
    expect(await failure(prom.buildInfo())).toBe(`connection refused (${at}): is Prometheus running and the port right?`)
  })

  it('tell an unknown host and a timeout apart from a refusal', () => {
    expect(describeNetworkError(Object.assign(new Error('getaddrinfo ENOTFOUND db.invalid'), {code: 'ENOTFOUND', hostname: 'db.invalid'}), 'the server'))
      .toBe('host not found (db.invalid): check the host name')
    // fetch: the socket's error is the cause; AbortSignal.timeout rejects with a TimeoutError.
    expect(describeHttpError(new TypeError('fetch failed', {cause: Object.assign(new Error('x'), {code: 'EAI_AGAIN'})}), 'Prometheus', 'http://prom.internal:9090'))
      .toBe('host not found (prom.internal:9090): check the host name')
    expect(describeHttpError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'Prometheus', new URL('http://prom:9090')))
      .toBe('connection timed out (prom:9090): check that Prometheus is reachable from here (host, port, firewall)')
    expect(describePgConnectError(new Error('Connection terminated due to connection timeout'), 'PostgreSQL', {where: 'db:5432'}))
      .toBe('connection timed out (db:5432): check that the server is reachable from here (host, port, firewall)')
    expect(describeRedisError(new Error('Command timed out'))).toBe('Command timed out')
  })

  it('name the login and the fix of each protocol', () => {
    const pgError = (code: string, message: string) => Object.assign(new Error(message), {code})
    expect(describePgConnectError(pgError('28P01', 'password authentication failed for user "app"'), 'PostgreSQL', {user: 'app'}))
      .toBe("PostgreSQL refused the login for user 'app': check the user and password")
    expect(describePgConnectError(pgError('28000', 'no pg_hba.conf entry for host "10.0.0.9"'), 'PostgreSQL', {user: 'app'}))
      .toBe('no pg_hba.conf entry for host "10.0.0.9": check pg_hba.conf or the user name')
    expect(describePgConnectError(pgError('28000', 'no such user'), 'PgBouncer', {user: 'stats'}))
      .toBe("PgBouncer refused the login for user 'stats': check the user and password")
    expect(describePgConnectError(pgError('08P01', 'not allowed'), 'PgBouncer', {user: 'app'}))
      .toBe("PgBouncer refused user 'app' on the admin console (not allowed): add it to stats_users in pgbouncer.ini")
    expect(describePgConnectError(pgError('3D000', 'database "nope" does not exist'), 'PostgreSQL'))
      .toBe('database "nope" does not exist: check the database name in the URL')
    expect(describeRedisError(new Error('WRONGPASS invalid username-password pair'))).toBe('authentication failed: check the user and password in the URL')
  })
})
