import {describe, expect, it} from 'vitest'
import {describeMysqlError} from '../../../src/drivers/connect-errors.js'
import {detectFlavour, mysqlConnectionOptions, statementLimitSql, versionNumber} from '../../../src/drivers/mysql.js'

describe('mysql driver options', () => {
  it('reads mysql:// and mariadb:// URLs, password decoded, no TLS by default', () => {
    expect(mysqlConnectionOptions('mariadb://app:p%40ss@db.example:3307/shop')).toMatchObject({host: 'db.example', port: 3307, user: 'app', password: 'p@ss', database: 'shop', multipleStatements: false})
    expect(mysqlConnectionOptions('mysql://root@h/')).not.toHaveProperty('ssl')
  })

  it('passes TLS through by the mysql client\'s ssl-mode names and refuses what mysql2 cannot do', () => {
    expect(mysqlConnectionOptions('mysql://u@h/?ssl-mode=REQUIRED').ssl).toEqual({rejectUnauthorized: false})
    expect(() => mysqlConnectionOptions('mysql://u@h/?ssl-mode=VERIFY_IDENTITY')).toThrow(/needs ssl-ca=/)
    expect(() => mysqlConnectionOptions('mysql://u@h/?ssl-mode=PREFERRED')).toThrow(/PREFERRED would fall back to plain text/)
    expect(() => mysqlConnectionOptions('mysql://u@h/?sslmode=require')).toThrow(/unknown parameter "sslmode" \(supported: ssl-mode, ssl-ca, ssl-cert, ssl-key\)/)
    expect(() => mysqlConnectionOptions('postgres://u@h/')).toThrow(/mysql:\/\/ or mariadb:\/\//)
  })

  it('tells the flavours apart and sets each one\'s statement limit in its own unit', () => {
    expect(detectFlavour('10.11.19-MariaDB-0+deb12u1-log', 'Debian 12')).toBe('mariadb')
    expect(detectFlavour('8.0.36', 'MySQL Community Server - GPL')).toBe('mysql')
    expect(detectFlavour('5.5.5-10.6.12', 'mariadb.org binary distribution')).toBe('mariadb')
    expect(versionNumber('10.11.19-MariaDB')).toBe(101119)
    expect(versionNumber('8.0.36')).toBe(80036)
    expect(statementLimitSql('mariadb', 10_000)).toBe('max_statement_time = 10.000')
    expect(statementLimitSql('mysql', 10_000)).toBe('max_execution_time = 10000')
  })

  it('maps the server\'s refusals to one line with the fix', () => {
    expect(describeMysqlError({code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, sqlMessage: "Access denied for user 'a'@'h' (using password: YES)"}, {user: 'a'}))
      .toBe("MySQL refused the login for user 'a': check the user and password")
    expect(describeMysqlError({code: 'ER_BAD_DB_ERROR', errno: 1049}, {database: 'shpo'})).toBe("unknown database 'shpo': check the database name in the URL")
    expect(describeMysqlError({code: 'ETIMEDOUT', message: 'connect ETIMEDOUT'}, {where: '10.0.0.1:3306'})).toBe('connection timed out (10.0.0.1:3306): check that the server is reachable from here (host, port, firewall)')
    expect(describeMysqlError({code: 'ER_CON_COUNT_ERROR', errno: 1040})).toMatch(/max_connections reached/)
  })
})

describe('mysql URLs in the config', () => {
  it('a parameter the driver cannot honour is a config error (exit 2) before anything connects, naming the fix', async () => {
    const {resolveTargets} = await import('../../../src/core/config.js')
    const {ConfigError} = await import('../../../src/core/errors.js')
    const {registry, testContext} = await import('../../helpers/context.js')
    const resolve = (url: string) => resolveTargets({}, {mysql: [url]}, registry, testContext().secrets, {})
    expect(() => resolve('mysql://u:pw@h/?ssl-mode=PREFERRED')).toThrow(ConfigError)
    expect(() => resolve('mysql://u:pw@h/?ssl-mode=PREFERRED')).toThrow(/^--mysql: mysql URL: ssl-mode=PREFERRED is not supported/)
    expect(() => resolve('mysql://u@h/?ssl-mode=VERIFY_CA')).toThrow(/needs ssl-ca=/)
    expect(() => resolve('postgres://u@h/')).toThrow(/--mysql: a mysql URL must start with mysql:\/\/ or mariadb:\/\//)
    expect(resolve('mariadb://u:pw@h:3307/shop?ssl-mode=REQUIRED')).toEqual([expect.objectContaining({kind: 'mysql', name: 'mysql:h:3307/shop'})])
  })
})
