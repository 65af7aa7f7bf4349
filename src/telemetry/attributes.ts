/**
 * What a trace says about a target and about each command sent to it, in OpenTelemetry's semantic conventions
 * (database spans as stabilised in semconv 1.33: db.system.name, db.namespace, db.operation.name, db.query.text;
 * HTTP client spans for the HTTP APIs; messaging attributes for RabbitMQ's AMQP methods and NATS requests).
 * Plain functions with no OpenTelemetry import, so they are unit-tested as they are and cost nothing unless traces
 * are on. docs/telemetry.md lists what each kind of target gets.
 *
 * Nothing here may carry a secret or a value read from the data: URLs give only their host, port and database;
 * SQL is exported in its normalised form (every literal a $n placeholder, as pg_stat_statements shows it), or not
 * at all when it does not parse; Redis commands keep their arguments only for commands whose arguments are names
 * chokepoint chose (an INFO section, a CONFIG parameter), never key names, values or AUTH.
 */

export type AttributeValue = string | number | boolean
export type Attributes = Record<string, AttributeValue>

/** What the telemetry knows of a target: its kind and the attributes every span about it carries. */
export interface TargetDescription {
  kind: string
  /** server.address, server.port, db.system.name, db.namespace (where they apply). */
  attributes: Attributes
}

/** A CLIENT span: its name and attributes. */
export interface ClientSpan {
  name: string
  attributes: Attributes
}

/** How a command's text is made safe to export: the normalised SQL, or undefined when it cannot be (then omitted). */
export type SqlNormaliser = (sql: string) => string | undefined

interface KindConvention {
  /** db.system.name; absent for targets spoken to over HTTP or a messaging protocol. */
  system?: string
  defaultPort?: number
  /** The database the URL names, as db.namespace. */
  namespace?: (url: URL, facts?: Record<string, unknown>) => string | undefined
  /** SQL whose text libpg-query (PostgreSQL's parser) can normalise; other dialects export no db.query.text. */
  postgresSql?: boolean
  /** db.system.name when it depends on the server found (MySQL or MariaDB). */
  systemOf?: (url: URL, facts?: Record<string, unknown>) => string
}

const pathDatabase = (url: URL) => decodeSegment(url.pathname.replace(/^\/+/, '').split('/')[0])

const KINDS: Record<string, KindConvention> = {
  postgres: {system: 'postgresql', defaultPort: 5432, postgresSql: true,
    namespace: (url, facts) => (typeof facts?.database === 'string' && facts.database) || pathDatabase(url) || url.searchParams.get('dbname') || undefined},
  // PgBouncer's admin console speaks the PostgreSQL protocol but is no PostgreSQL: semconv's "other_sql".
  pgbouncer: {system: 'other_sql', defaultPort: 6432, postgresSql: true, namespace: () => 'pgbouncer'},
  // The Redis logical database is its db.namespace (semconv: "the database index").
  redis: {system: 'redis', defaultPort: 6379, namespace: (url) => pathDatabase(url) || '0'},
  // One kind for both servers: the flavour the driver detected (facts.flavour), else the URL's scheme, tells them apart.
  mysql: {system: 'mysql', defaultPort: 3306, namespace: (url) => pathDatabase(url) || undefined,
    systemOf: (url, facts) => (facts?.flavour === 'mariadb' || (!facts?.flavour && url.protocol === 'mariadb:') ? 'mariadb' : 'mysql')},
  rabbitmq: {defaultPort: 5672},
  nats: {defaultPort: 4222},
  prometheus: {defaultPort: 9090},
}

function decodeSegment(text: string | undefined): string {
  if (!text) return ''
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}

/**
 * server.address and server.port (the URL's, or the kind's default port), db.system.name and db.namespace. `url`
 * is the redacted URL: only its host, port, path and the host/dbname parameters are read, never its user part.
 */
export function describeTarget(kind: string, url: string, facts?: Record<string, unknown>): TargetDescription {
  const convention = KINDS[kind] ?? {}
  const attributes: Attributes = {}
  if (convention.system) attributes['db.system.name'] = convention.system
  const parsed = parseUrl(url)
  if (parsed && convention.systemOf) attributes['db.system.name'] = convention.systemOf(parsed, facts)
  if (parsed) {
    // A PostgreSQL URL may name a Unix socket directory in ?host= instead of a host.
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || parsed.searchParams.get('host') || ''
    if (host) attributes['server.address'] = host
    const port = Number(parsed.port || parsed.searchParams.get('port') || (parsed.protocol === 'https:' ? 443 : parsed.protocol === 'http:' ? 80 : convention.defaultPort))
    if (Number.isInteger(port) && port > 0) attributes['server.port'] = port
    const namespace = convention.namespace?.(parsed, facts)
    if (namespace) attributes['db.namespace'] = namespace
  }
  return {kind, attributes}
}

/** Leading comments and parentheses skipped, the first word of a statement in upper case. */
function firstKeyword(statement: string): string | undefined {
  const rest = statement.replace(/^(\s+|\/\*[\s\S]*?\*\/|--[^\n]*\n?|\()*/, '')
  return /^[A-Za-z]+/.exec(rest)?.[0].toUpperCase()
}

/**
 * db.operation.name of SQL: the statement's first keyword; for several statements in one round trip "BATCH <op>"
 * when they share it, else "BATCH" (semconv's batch rule), with db.operation.batch.size. The text is the
 * normalised one: no literal is left to hold a `;`.
 */
export function sqlOperation(normalised: string): {operation?: string; batchSize?: number} {
  const statements = normalised.split(';').map((s) => s.trim()).filter(Boolean)
  const operations = statements.map(firstKeyword)
  if (statements.length <= 1) return {operation: operations[0]}
  const same = operations.every((o) => o && o === operations[0])
  return {operation: same ? `BATCH ${operations[0]}` : 'BATCH', batchSize: statements.length}
}

/** Redis commands whose first word is a container of subcommands: `CONFIG GET` is the operation, not `CONFIG`. */
const REDIS_CONTAINERS = new Set(['ACL', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'FUNCTION', 'LATENCY', 'MEMORY', 'MODULE', 'OBJECT', 'PUBSUB',
  'SCRIPT', 'SLOWLOG', 'XGROUP', 'XINFO'])
/**
 * Redis operations whose arguments chokepoint chose and are no data: an INFO section, a CONFIG parameter name.
 * Every other command's arguments (key names, cursors, values, scripts, AUTH) are replaced by one `?`.
 */
const REDIS_NAMED_ARGUMENTS = new Set(['INFO', 'CONFIG GET', 'CLIENT LIST', 'CLIENT INFO', 'MEMORY STATS', 'SLOWLOG GET', 'SLOWLOG LEN', 'LATENCY LATEST', 'TIME', 'DBSIZE', 'PING', 'LASTSAVE'])

function redisOperation(words: string[]): {operation: string; used: number} {
  const head = words[0]?.toUpperCase() ?? ''
  if (REDIS_CONTAINERS.has(head) && words[1]) return {operation: `${head} ${words[1].toUpperCase()}`, used: 2}
  return {operation: head, used: 1}
}

/**
 * A Redis command as the driver logged it: `CMD arg1 arg2` (at most two arguments), or a pipeline as
 * `pipeline INFO/TYPE x12` (the commands' names, `/` or `, ` between them, and their number).
 */
export function redisCommand(text: string): {operation: string; query?: string; batchSize?: number} {
  const pipeline = /^pipeline (.+) x(\d+)$/.exec(text)
  if (pipeline) {
    const names = pipeline[1].split(/\/|, /).map((n) => redisOperation(n.trim().split(' ')).operation)
    const size = Number(pipeline[2])
    // semconv: "PIPELINE <command>" when every command of the pipeline is the same one, else "PIPELINE".
    return {operation: names.length === 1 ? `PIPELINE ${names[0]}` : 'PIPELINE', batchSize: size}
  }
  const words = text.split(' ').filter(Boolean)
  const {operation, used} = redisOperation(words)
  const query = REDIS_NAMED_ARGUMENTS.has(operation) ? words.join(' ') : words.length > used ? `${operation} ?` : operation
  return {operation, query}
}

/** The parts of a command event the mapping reads. */
export interface CommandInput {
  /** The whole whitespace-folded text (CommandEvent.query), else its 160-character cut (CommandEvent.text). */
  text: string
  error?: boolean
  errorType?: string
}

function spanName(operation: string | undefined, target: TargetDescription): string {
  const namespace = target.attributes['db.namespace']
  if (operation) return namespace !== undefined ? `${operation} ${namespace}` : operation
  return String(target.attributes['db.system.name'] ?? target.kind)
}

function withError(attributes: Attributes, input: CommandInput): Attributes {
  if (!input.error) return attributes
  const type = input.errorType || '_OTHER'
  attributes['error.type'] = type
  // A SQLSTATE or a Redis error prefix is the database's own status code (semconv db.response.status_code).
  if (/^[0-9A-Z]{5}$/.test(type) || /^[A-Z]{2,}$/.test(type)) attributes['db.response.status_code'] = type
  return attributes
}

/**
 * The CLIENT span of one command: its name and attributes, per the target's kind. `normalise` makes SQL safe to
 * export (src/telemetry/sql.ts); a statement it cannot normalise gets no db.query.text.
 */
export function commandSpan(target: TargetDescription, input: CommandInput, normalise: SqlNormaliser): ClientSpan {
  const base: Attributes = {...target.attributes}
  const convention = KINDS[target.kind]
  if (convention?.postgresSql) {
    const normalised = normalise(input.text)
    if (normalised !== undefined) {
      base['db.query.text'] = normalised
      const {operation, batchSize} = sqlOperation(normalised)
      if (operation) base['db.operation.name'] = operation
      if (batchSize) base['db.operation.batch.size'] = batchSize
    }
    return {name: spanName(base['db.operation.name'] as string | undefined, target), attributes: withError(base, input)}
  }
  if (target.kind === 'redis') {
    const {operation, query, batchSize} = redisCommand(input.text)
    base['db.operation.name'] = operation
    if (query) base['db.query.text'] = query
    if (batchSize) base['db.operation.batch.size'] = batchSize
    return {name: spanName(operation, target), attributes: withError(base, input)}
  }
  if (convention?.system) {
    // Another SQL dialect (MySQL, MariaDB): PostgreSQL's parser cannot normalise it, so its text stays out.
    const operation = firstKeyword(input.text)
    if (operation) base['db.operation.name'] = operation
    return {name: spanName(operation, target), attributes: withError(base, input)}
  }
  if (target.kind === 'prometheus') return httpSpan(base, prometheusPath(input.text), input)
  if (target.kind === 'rabbitmq') return rabbitSpan(base, input)
  if (target.kind === 'nats') return natsSpan(base, input)
  // A plugin's kind: chokepoint cannot tell what its commands carry, so only that one was sent.
  return {name: target.kind, attributes: withError(base, input)}
}

/** The driver logs `query <PromQL>` for an instant query, `GET <path>` for the rest. */
function prometheusPath(text: string): string {
  if (text.startsWith('query ')) return 'api/v1/query'
  return text.replace(/^GET\s+/, '').split('?')[0]
}

/**
 * An HTTP GET to a target's API (Prometheus, the RabbitMQ management API): semconv HTTP client attributes. The
 * query string (PromQL) is left out: url.path names the endpoint.
 */
function httpSpan(base: Attributes, path: string, input: CommandInput): ClientSpan {
  const attributes: Attributes = {...base, 'http.request.method': 'GET', 'url.path': `/${path.replace(/^\/+/, '')}`}
  if (input.error) attributes['error.type'] = input.errorType || '_OTHER'
  return {name: 'GET', attributes}
}

/** RabbitMQ: management API GETs as HTTP spans, AMQP methods as messaging spans (the queue names come from the config). */
function rabbitSpan(base: Attributes, input: CommandInput): ClientSpan {
  if (input.text.startsWith('GET ')) return httpSpan(base, input.text.slice(4), input)
  const amqp = /^AMQP (\S+)(?: passive)?(?: (.+))?$/.exec(input.text)
  const operation = amqp?.[1] ?? 'amqp'
  const attributes: Attributes = {...base, 'messaging.system': 'rabbitmq', 'messaging.operation.name': operation}
  if (amqp?.[2]) attributes['messaging.destination.name'] = amqp[2]
  if (input.error) attributes['error.type'] = input.errorType || '_OTHER'
  return {name: amqp?.[2] ? `${operation} ${amqp[2]}` : operation, attributes}
}

/** NATS: the connect, and JetStream API requests by subject. */
function natsSpan(base: Attributes, input: CommandInput): ClientSpan {
  const attributes: Attributes = {...base, 'messaging.system': 'nats'}
  if (input.text === 'CONNECT') {
    attributes['messaging.operation.name'] = 'connect'
  } else {
    attributes['messaging.operation.name'] = 'request'
    attributes['messaging.destination.name'] = input.text.split(' ')[0]
  }
  if (input.error) attributes['error.type'] = input.errorType || '_OTHER'
  return {name: attributes['messaging.destination.name'] ? `request ${attributes['messaging.destination.name']}` : 'connect', attributes}
}
