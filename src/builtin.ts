/**
 * The built-in plugin: every target kind, probe, advisor and reporter chokepoint ships, registered the same way an
 * external plugin registers its own. Only data and loaders live here, so the CLI can build its flags and validate a
 * config without importing any driver, probe or client library.
 */
import {DEFAULT_RULES_DIR} from './core/rules.js'
import {definePlugin, type OptionSpecs} from './core/plugin.js'
import {Registry} from './core/registry.js'

const number = (description: string) => ({type: 'number', description}) as const
const string = (description: string) => ({type: 'string', description}) as const
const object = (description: string) => ({type: 'object', description}) as const
const boolean = (description: string) => ({type: 'boolean', description}) as const
const array = (description: string) => ({type: 'array', description}) as const

/** Options the stack-wide advisors read; a config sets them under options.postgres (they run once per stack). */
const STACK_ADVISOR_OPTIONS: OptionSpecs = {
  poolChain: object('pool-chain advisor: {instances, appPoolSize, dbCores, spindles} when app pool gauges are not scraped'),
  workersUtilisation: number('workers advisor: target consumer utilisation (default 0.7)'),
  drainTargetSeconds: number('workers advisor: how fast a backlog should drain (default 600)'),
}

const POSTGRES_OPTIONS: OptionSpecs = {
  statementTimeoutMs: number('statement_timeout of chokepoint\'s session (default 10000)'),
  lockTimeoutMs: number('lock_timeout of chokepoint\'s session (default 1000)'),
  connectTimeoutMs: number('connection timeout (default 5000)'),
  unsafeRawQueryTexts: boolean('UNSAFE: also keep the server\'s raw query texts (rawQuery) in postgres.activity/statements readings; they may hold passwords and tokens'),
  scratch: boolean('this database is a scratch copy: allows --verify-real (with COMMENT ON DATABASE ... \'chokepoint:scratch\')'),
  indexAdvisor: object('index advisor: {queries, indexBudgetBytes, maxIndexes, minImprovement, verifyReal, maxStatements, maxWhatIfCalls}'),
  cacheTopN: number('postgres.cache-hit: tables listed (default 10)'),
  cacheMinBlocks: number('postgres.cache-hit: blocks read before a hit rate is judged'),
  tablesMinRows: number('postgres.tables: smallest table judged for sequential scans'),
  tablesMetricLimit: number('postgres.tables: tables measured per metric'),
  tablesTopN: number('postgres.tables: tables listed per list'),
  tablesWriteRates: number('postgres.tables: most-written tables whose write rates the index advisor reads'),
  statementsLimit: number('postgres.statements: statements read'),
  statementsBaselineLimit: number('postgres.statements: statements kept in the window baseline'),
  xidDatabaseLimit: number('postgres.xid-age: databases listed'),
  xidTableLimit: number('postgres.xid-age: tables listed'),
  connectionsTopN: number('postgres.connections: roles and states listed'),
  activityTopN: number('postgres.activity: sessions listed'),
  indexesDataLimit: number('postgres.indexes: indexes kept in the reading (default 5000)'),
  indexesFlaggedLimit: number('postgres.indexes: unused, duplicate and invalid indexes listed, each (default 100)'),
  ...STACK_ADVISOR_OPTIONS,
}

const REDIS_OPTIONS: OptionSpecs = {
  sampleKeys: number('redis.keys: keys read at most, over all primaries (default 10000)'),
  scanCount: number('redis.keys: SCAN COUNT hint, at most 100'),
  scanPauseMs: number('redis.keys: pause between SCAN calls (default 2)'),
  topPatterns: number('redis.keys: key patterns kept, by memory (default 100)'),
  coldIdleSeconds: number('redis.keys: idle time after which a key counts as unread (default 86400)'),
  queues: object('queue probes on this Redis: {bullmq: {prefixes}, sidekiq: {namespace}, celery: {queues}}'),
  ttlMinKeys: number('ttl advisor: sampled keys a pattern needs before it is judged (default 3)'),
  noTtlShare: number('ttl advisor: share of keys without TTL from which a pattern is reported (default 0.5)'),
  unreadShare: number('ttl advisor: share of unread keys for a write-only finding (default 0.8)'),
  unreadMinKeys: number('ttl advisor: keys judged before a write-only finding (default 5)'),
  warnMemoryShare: number('ttl advisor: memory share from which a pattern finding is a warning (default 0.05)'),
  evictionNoTtlShare: number('ttl advisor: memory share without TTL that makes evictions a finding (default 0.2)'),
}

const PROMETHEUS_OPTIONS: OptionSpecs = {
  mode: string('"prometheus" (a server) or "metrics" (a bare /metrics endpoint); detected when absent'),
  timeoutMs: number('HTTP timeout (default 5000)'),
  bearerToken: string('Authorization: Bearer token'),
  basicAuth: object('{username, password} for basic authentication'),
  window: string('rate() window of the default queries (default 5m)'),
  groupBy: string('labels the HTTP metrics are grouped by (default job)'),
  resourceGroupBy: string('labels CPU and memory are grouped by (default "job, instance")'),
  queries: object('PromQL per reading: latencyP95, latencyP99, errorRate, cpu, memory, poolActive, poolTotal, poolIdle, poolWaiting, poolMax'),
  cpuCores: number('cores per instance, to turn process CPU seconds into a utilisation (default 1)'),
  memoryLimitBytes: number('memory limit per instance when no limit is scraped'),
  appPoolMax: number('application pool max when the pool gauges do not export it'),
}

const RABBITMQ_OPTIONS: OptionSpecs = {
  vhost: string('virtual host (default / or the URL path)'),
  managementUrl: string('management API base URL (default http://host:15672)'),
  amqpPort: number('AMQP port when the target URL is the management API'),
  timeoutMs: number('timeout (default 5000)'),
  queues: array('queue names to read by passive declare when the management API is absent'),
  maxQueues: number('queues read at most'),
}

const NATS_OPTIONS: OptionSpecs = {
  timeoutMs: number('timeout (default 5000)'),
  maxQueues: number('streams and consumers read at most'),
  consumerActiveSeconds: number('a consumer seen within this many seconds counts as attached'),
}

const PGBOUNCER_OPTIONS: OptionSpecs = {
  connectTimeoutMs: number('connection timeout (default 5000)'),
  queryTimeoutMs: number('SHOW command timeout (default 10000)'),
}

/** libpq's PG* variables as a URL; the password stays in PGPASSWORD, which node-postgres reads itself. */
function urlFromLibpqEnv(env: NodeJS.ProcessEnv, secrets: {register(secret: string | undefined): void}) {
  if (!env.PGHOST && !env.PGDATABASE && !env.PGPORT && !env.PGUSER) return undefined
  secrets.register(env.PGPASSWORD)
  const host = env.PGHOST && !env.PGHOST.startsWith('/') ? env.PGHOST : 'localhost'
  const user = env.PGUSER ? `${encodeURIComponent(env.PGUSER)}@` : ''
  const socket = env.PGHOST?.startsWith('/') ? `?host=${encodeURIComponent(env.PGHOST)}` : ''
  return {url: `postgres://${user}${host}:${env.PGPORT ?? '5432'}/${encodeURIComponent(env.PGDATABASE ?? env.PGUSER ?? 'postgres')}${socket}`, origin: 'PG* variables'}
}

const QUEUE_METRICS = ['queue.depth', 'queue.latency_seconds', 'queue.consumers', 'queue.dead_letter.growth', 'queue.growth_rate', 'queue.failed', 'queue.in_flight']

export const builtinPlugin = definePlugin({
  name: 'chokepoint',
  rulesDirs: [DEFAULT_RULES_DIR],
  targetKinds: [
    {
      kind: 'postgres',
      title: 'PostgreSQL',
      flag: 'pg',
      summary: 'PostgreSQL URL (repeatable). Default: DATABASE_URL or libpq PG* variables.',
      env: ['DATABASE_URL'],
      urlFromEnv: urlFromLibpqEnv,
      schemes: ['postgres:', 'postgresql:'],
      example: 'postgres://user@host:5432/db',
      options: POSTGRES_OPTIONS,
      probeMetrics: {
        'postgres.connections': ['pool.utilization'],
        'postgres.activity': ['db.query.duration_seconds', 'db.idle_in_transaction.seconds'],
        'postgres.cache-hit': ['db.cache.hit_ratio'],
        'postgres.tables': ['db.table.seq_scan_share', 'postgres.table.dead_tuple_ratio'],
        'postgres.xid-age': ['postgres.xid.age_ratio'],
        'postgres.statements': ['db.statement.mean_seconds'],
        'postgres.indexes': ['db.index.unused_bytes', 'db.index.duplicate_bytes', 'postgres.index.invalid'],
        'postgres.replication': ['replication.lag_seconds', 'replication.inactive_slot.retained_bytes'],
        'postgres.plans': ['postgres.plans.unplannable'],
      },
      driver: async () => (await import('./drivers/postgres.js')).postgresDriver,
      probes: async () => (await import('./probes/postgres/index.js')).postgresProbes,
    },
    {
      kind: 'pgbouncer',
      title: 'PgBouncer',
      flag: 'pgbouncer',
      summary: 'PgBouncer admin console URL, e.g. postgres://stats_user:pw@host:6432/pgbouncer (repeatable).',
      schemes: ['postgres:', 'postgresql:'],
      example: 'postgres://stats_user@host:6432/pgbouncer',
      options: PGBOUNCER_OPTIONS,
      probeMetrics: {
        'pgbouncer.pools': ['pool.utilization', 'pool.clients_waiting', 'pool.max_wait_seconds'],
        'pgbouncer.stats': ['pool.avg_wait_seconds'],
      },
      driver: async () => (await import('./drivers/pgbouncer.js')).pgbouncerDriver,
      probes: async () => (await import('./probes/pgbouncer/index.js')).pgbouncerProbes,
    },
    {
      kind: 'redis',
      title: 'Redis',
      flag: 'redis',
      summary: 'Redis URL (repeatable). Default: REDIS_URL.',
      env: ['REDIS_URL'],
      schemes: ['redis:', 'rediss:'],
      example: 'redis://host:6379',
      options: REDIS_OPTIONS,
      probeMetrics: {
        'redis.info': ['cache.hit_rate', 'cache.evictions.per_second', 'cache.expired.per_second', 'cache.memory.utilization',
          'cache.fragmentation.ratio', 'cache.clients.utilization', 'cache.clients.rejected'],
        'redis.config': [],
        'redis.keys': [],
        'queues.bullmq': QUEUE_METRICS,
        'queues.sidekiq': QUEUE_METRICS,
        'queues.celery': QUEUE_METRICS,
      },
      driver: async () => (await import('./drivers/redis.js')).redisDriver,
      probes: async () => (await import('./probes/redis/index.js')).redisProbes,
    },
    {
      kind: 'rabbitmq',
      title: 'RabbitMQ',
      flag: 'amqp',
      summary: 'RabbitMQ AMQP URL (repeatable). Default: AMQP_URL.',
      env: ['AMQP_URL'],
      schemes: ['amqp:', 'amqps:', 'http:', 'https:'],
      example: 'amqp://user@host:5672/vhost',
      options: RABBITMQ_OPTIONS,
      probeMetrics: {'rabbitmq.queues': QUEUE_METRICS, 'rabbitmq.management': []},
      driver: async () => (await import('./drivers/rabbitmq.js')).rabbitmqDriver,
      probes: async () => (await import('./probes/rabbitmq/index.js')).rabbitmqProbes,
    },
    {
      kind: 'nats',
      title: 'NATS JetStream',
      flag: 'nats',
      summary: 'NATS URL for JetStream (repeatable). Default: NATS_URL.',
      env: ['NATS_URL'],
      schemes: ['nats:', 'tls:'],
      example: 'nats://host:4222',
      options: NATS_OPTIONS,
      probeMetrics: {'nats.jetstream': QUEUE_METRICS},
      driver: async () => (await import('./drivers/nats.js')).natsDriver,
      probes: async () => (await import('./probes/nats/index.js')).natsProbes,
    },
    {
      kind: 'prometheus',
      title: 'Prometheus',
      flag: 'prometheus',
      summary: 'Prometheus server URL (repeatable). Default: PROMETHEUS_URL.',
      env: ['PROMETHEUS_URL'],
      schemes: ['http:', 'https:'],
      example: 'http://host:9090',
      options: PROMETHEUS_OPTIONS,
      probeMetrics: {
        'prometheus.latency': ['http.latency.p95', 'http.latency.p99'],
        'prometheus.errors': ['http.error_rate'],
        'prometheus.cpu': ['host.cpu.utilization'],
        'prometheus.memory': ['host.memory.utilization'],
        'prometheus.app-pools': ['pool.utilization', 'pool.clients_waiting'],
      },
      driver: async () => (await import('./drivers/prometheus.js')).prometheusDriver,
      probes: async () => (await import('./probes/prometheus/index.js')).prometheusProbes,
    },
  ],
  advisors: [
    {id: 'ttl', scope: 'redis', description: 'Per-pattern TTL, idleness and eviction analysis of a Redis key sample', load: async () => (await import('./advisors/ttl.js')).ttlAdvisor},
    {id: 'index', scope: 'postgres', description: 'Workload index advisor: candidate indexes verified by what-if planning', load: async () => (await import('./advisors/index-advisor/advisor.js')).indexAdvisor},
    {id: 'workers', scope: 'stack', description: 'Consumers each queue needs from arrival and service rates', load: async () => (await import('./advisors/workers.js')).workersAdvisor},
    {id: 'pool-chain', scope: 'stack', description: 'App pools x instances, PgBouncer pools and max_connections budgeted together', load: async () => (await import('./advisors/pool-chain.js')).poolChainAdvisor},
  ],
  reporters: [
    {format: 'table', description: 'terminal tables (colour on a TTY)', load: async () => (await import('./reporters/table.js')).renderTable},
    {format: 'json', description: 'the JSON report (schemas/report.schema.json)', load: async () => (await import('./reporters/json.js')).renderJson},
    {format: 'markdown', description: 'Markdown for pull requests and step summaries', load: async () => (await import('./reporters/markdown.js')).renderMarkdown},
  ],
})

/** The kinds and formats chokepoint ships, for flags and docs that must exist before any plugin is loaded. */
export const BUILTIN_KINDS = builtinPlugin.targetKinds ?? []
export const BUILTIN_FORMATS = (builtinPlugin.reporters ?? []).map((r) => r.format)

export function builtinRegistry(...plugins: Parameters<Registry['with']>): Registry {
  return new Registry([builtinPlugin, ...plugins])
}
