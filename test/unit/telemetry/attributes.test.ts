import {beforeAll, describe, expect, it} from 'vitest'
import {commandSpan, describeTarget, redisCommand, sqlOperation} from '../../../src/telemetry/attributes.js'
import {loadSqlNormaliser, normaliseSql} from '../../../src/telemetry/sql.js'
import {SecretRegistry} from '../../../src/core/redact.js'


beforeAll(() => loadSqlNormaliser())
const redacted = (url: string) => new SecretRegistry().redactUrl(url)

describe('describeTarget', () => {
  it('gives a PostgreSQL target its system, host, port and database, and nothing of its user part', () => {
    const target = describeTarget('postgres', redacted('postgres://app:s3cret-pw@db.internal:6543/shop?sslmode=require'))
    expect(target.attributes).toEqual({'db.system.name': 'postgresql', 'server.address': 'db.internal', 'server.port': 6543, 'db.namespace': 'shop'})
    expect(JSON.stringify(target)).not.toMatch(/s3cret|app/)
  })

  it('takes the database the server answered over the URL, and the default port and socket host when the URL has none', () => {
    expect(describeTarget('postgres', 'postgres://db/', {database: 'orders'}).attributes).toMatchObject({'server.port': 5432, 'db.namespace': 'orders'})
    expect(describeTarget('postgres', 'postgres:///shop?host=/var/run/postgresql').attributes).toMatchObject({'server.address': '/var/run/postgresql', 'db.namespace': 'shop'})
  })

  it('names a Redis logical database by its index (0 when the URL names none), and IPv6 hosts without brackets', () => {
    expect(describeTarget('redis', redacted('redis://:pw@[::1]:6380/3')).attributes).toEqual({'db.system.name': 'redis', 'server.address': '::1', 'server.port': 6380, 'db.namespace': '3'})
    expect(describeTarget('redis', 'redis://cache').attributes).toMatchObject({'server.port': 6379, 'db.namespace': '0'})
  })

  it('tells MariaDB from MySQL by the flavour the driver found, else by the URL\'s scheme', () => {
    expect(describeTarget('mysql', 'mysql://app@db/shop').attributes).toEqual({'db.system.name': 'mysql', 'server.address': 'db', 'server.port': 3306, 'db.namespace': 'shop'})
    expect(describeTarget('mysql', 'mariadb://app@db/shop').attributes['db.system.name']).toBe('mariadb')
    expect(describeTarget('mysql', 'mysql://app@db/shop', {flavour: 'mariadb'}).attributes['db.system.name']).toBe('mariadb')
  })

  it('calls PgBouncer other_sql and gives HTTP targets no db.system.name', () => {
    expect(describeTarget('pgbouncer', 'postgres://stats@bouncer:6432/pgbouncer').attributes['db.system.name']).toBe('other_sql')
    expect(describeTarget('prometheus', 'http://prom:9090/').attributes).toEqual({'server.address': 'prom', 'server.port': 9090})
    expect(describeTarget('prometheus', 'https://prom.example/').attributes['server.port']).toBe(443)
  })
})

describe('SQL on a span', () => {
  const pg = describeTarget('postgres', 'postgres://db:5432/shop')

  it('is normalised: every literal a placeholder, comments gone, whitespace folded', () => {
    const {name, attributes} = commandSpan(pg, {text: "SELECT id\n  FROM users -- the login table\n WHERE email = 'alice@example.com' AND n > 42"}, normaliseSql)
    expect(attributes['db.query.text']).toBe('SELECT id FROM users WHERE email = $1 AND n > $2')
    expect(attributes['db.operation.name']).toBe('SELECT')
    expect(name).toBe('SELECT shop')
  })

  it('is the text as sent when it holds no literal', () => {
    const text = 'SELECT relname FROM pg_class WHERE oid = $1'
    expect(commandSpan(pg, {text}, normaliseSql).attributes['db.query.text']).toBe(text)
  })

  it('is left out when PostgreSQL cannot parse it (no literal can be told apart then)', () => {
    const {name, attributes} = commandSpan(pg, {text: "SELEC 'hunter2' FROM"}, normaliseSql)
    expect(attributes['db.query.text']).toBeUndefined()
    expect(JSON.stringify(attributes)).not.toContain('hunter2')
    expect(name).toBe('postgresql')
  })

  it('names a batch BATCH, with its size, or BATCH <op> when its statements share one', () => {
    expect(sqlOperation('SET a = $1; SET b = $2; SELECT $3')).toEqual({operation: 'BATCH', batchSize: 3})
    expect(sqlOperation('EXPLAIN SELECT $1; EXPLAIN SELECT $2')).toEqual({operation: 'BATCH EXPLAIN', batchSize: 2})
    expect(sqlOperation('/* x */ (SELECT 1)')).toEqual({operation: 'SELECT'})
  })

  it('carries error.type and the SQLSTATE of a failed query', () => {
    const {attributes} = commandSpan(pg, {text: 'SELECT * FROM missing', error: true, errorType: '42P01'}, normaliseSql)
    expect(attributes).toMatchObject({'error.type': '42P01', 'db.response.status_code': '42P01'})
    expect(commandSpan(pg, {text: 'SELECT 1', error: true}, normaliseSql).attributes['error.type']).toBe('_OTHER')
  })

  it('of another dialect is never exported: PostgreSQL\'s parser cannot normalise it', () => {
    const mysql = describeTarget('mysql', 'mysql://db:3306/shop')
    const {attributes} = commandSpan(mysql, {text: "SELECT * FROM t WHERE secret = 'x'"}, normaliseSql)
    expect(attributes).toMatchObject({'db.system.name': 'mysql', 'db.operation.name': 'SELECT'})
    expect(attributes['db.query.text']).toBeUndefined()
  })
})

describe('Redis commands on a span', () => {
  it('keep the arguments chokepoint chose and hide key names, cursors and values', () => {
    expect(redisCommand('INFO memory')).toEqual({operation: 'INFO', query: 'INFO memory'})
    expect(redisCommand('CONFIG GET maxmemory-policy')).toEqual({operation: 'CONFIG GET', query: 'CONFIG GET maxmemory-policy'})
    expect(redisCommand('MEMORY USAGE user:1234:session')).toEqual({operation: 'MEMORY USAGE', query: 'MEMORY USAGE ?'})
    expect(redisCommand('SCAN 0 MATCH')).toEqual({operation: 'SCAN', query: 'SCAN ?'})
    expect(redisCommand('PTTL cart:99')).toEqual({operation: 'PTTL', query: 'PTTL ?'})
    expect(redisCommand('DBSIZE')).toEqual({operation: 'DBSIZE', query: 'DBSIZE'})
  })

  it('name a pipeline PIPELINE <command> when it repeats one command, else PIPELINE, with its size; AUTH stays bare', () => {
    expect(redisCommand('pipeline TYPE x40')).toEqual({operation: 'PIPELINE TYPE', batchSize: 40})
    expect(redisCommand('pipeline TYPE/MEMORY x12')).toEqual({operation: 'PIPELINE', batchSize: 12})
    expect(redisCommand('pipeline AUTH, CLIENT SETNAME x2')).toEqual({operation: 'PIPELINE', batchSize: 2})
  })

  it('get the Redis error prefix as error.type', () => {
    const redis = describeTarget('redis', 'redis://cache:6379/0')
    const {name, attributes} = commandSpan(redis, {text: 'MEMORY USAGE k', error: true, errorType: 'WRONGTYPE'}, normaliseSql)
    expect(name).toBe('MEMORY USAGE 0')
    expect(attributes).toMatchObject({'db.operation.name': 'MEMORY USAGE', 'error.type': 'WRONGTYPE', 'db.response.status_code': 'WRONGTYPE'})
  })
})

describe('HTTP and messaging targets', () => {
  it('make a Prometheus query an HTTP GET of its endpoint, the PromQL left out', () => {
    const prom = describeTarget('prometheus', 'http://prom:9090/')
    const {name, attributes} = commandSpan(prom, {text: 'query sum(rate(http_requests_total{job="api"}[5m]))'}, normaliseSql)
    expect(name).toBe('GET')
    expect(attributes).toEqual({'server.address': 'prom', 'server.port': 9090, 'http.request.method': 'GET', 'url.path': '/api/v1/query'})
  })

  it('make RabbitMQ API calls HTTP spans and AMQP methods messaging spans', () => {
    const rabbit = describeTarget('rabbitmq', 'amqp://guest@rabbit:5672/')
    expect(commandSpan(rabbit, {text: 'GET /api/queues/%2F'}, normaliseSql).attributes).toMatchObject({'http.request.method': 'GET', 'url.path': '/api/queues/%2F'})
    const declare = commandSpan(rabbit, {text: 'AMQP queue.declare passive emails'}, normaliseSql)
    expect(declare).toEqual({name: 'queue.declare emails', attributes: expect.objectContaining({'messaging.system': 'rabbitmq', 'messaging.operation.name': 'queue.declare', 'messaging.destination.name': 'emails'})})
  })

  it('make NATS JetStream calls requests on their subject', () => {
    const nats = describeTarget('nats', 'nats://n:4222')
    expect(commandSpan(nats, {text: '$JS.API.STREAM.LIST'}, normaliseSql)).toMatchObject({name: 'request $JS.API.STREAM.LIST', attributes: {'messaging.system': 'nats', 'messaging.operation.name': 'request'}})
  })

  it('give a plugin kind\'s commands no text at all', () => {
    const span = commandSpan(describeTarget('counter', 'counter://x'), {text: 'READ secret-thing'}, normaliseSql)
    expect(span.name).toBe('counter')
    expect(JSON.stringify(span)).not.toContain('secret-thing')
  })
})
