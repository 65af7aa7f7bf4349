/**
 * The built-in plugin: every target kind, probe, advisor and reporter chokepoint ships, registered the same way an
 * external plugin registers its own. Only data and loaders live here, so the CLI can build its flags and validate a
 * config without importing any driver, probe or client library.
 */
import {DEFAULT_RULES_DIR} from './core/rules.js'
import {definePlugin, type OptionSpec, type OptionSpecs} from './core/plugin.js'
import {Registry} from './core/registry.js'
import {mysqlUrlProblem} from './drivers/mysql-url.js'

type Constraints = Omit<OptionSpec, 'type' | 'description'>
const number = (description: string, constraints: Constraints = {}): OptionSpec => ({type: 'number', description, ...constraints})
const string = (description: string, constraints: Constraints = {}): OptionSpec => ({type: 'string', description, ...constraints})
const object = (description: string, constraints: Constraints = {}): OptionSpec => ({type: 'object', description, ...constraints})
const boolean = (description: string): OptionSpec => ({type: 'boolean', description})
const array = (description: string, constraints: Constraints = {}): OptionSpec => ({type: 'array', description, ...constraints})
/** A whole number within bounds: rows, keys, calls and milliseconds. */
const count = (description: string, min: number, max: number): OptionSpec => number(description, {integer: true, min, max})
const ratio = (description: string): OptionSpec => number(description, {min: 0, max: 1})
/** Every timeout has a floor above 0: 0 means "no timeout" to PostgreSQL and to node-postgres. */
const timeoutMs = (description: string, max = 120_000): OptionSpec => count(description, 100, max)

/** Options the stack-wide advisors read; a config sets them under options.postgres (they run once per stack). */
const STACK_ADVISOR_OPTIONS: OptionSpecs = {
  poolChain: object('pool-chain advisor: {instances, appPoolSize, dbCores, spindles} when app pool gauges are not scraped', {properties: {
    instances: count('instances of the application', 1, 100_000),
    appPoolSize: count('connection pool max of one instance', 1, 100_000),
    dbCores: count('CPU cores of the database server, for the HikariCP sizing hint', 1, 4096),
    spindles: count('effective spindles of the database server, for the HikariCP sizing hint (default 1)', 0, 1000),
  }}),
  workersUtilisation: number('workers advisor: target consumer utilisation (default 0.7)', {min: 0.1, max: 1}),
  drainTargetSeconds: number('workers advisor: how fast a backlog should drain (default 600)', {min: 1, max: 7 * 86_400}),
}

const INDEX_ADVISOR_OPTIONS: OptionSpecs = {
  queries: array('statements to advise on: [{sql, weight}] (--queries, --query)', {items: object('a statement', {required: ['sql'], properties: {
    sql: string('the statement'),
    weight: number('how often it runs, relative to the others (default 1)', {min: 0, max: 1e12}),
    file: string('the file it was read from (--queries), for findings that point at it'),
    line: count('the line of that file it starts on', 1, 2 ** 31 - 1),
  }})}),
  indexBudgetBytes: number('storage budget for proposed indexes (--index-budget)', {integer: true, min: 1, max: 2 ** 53 - 1}),
  maxIndexes: count('most indexes to propose (--max-indexes)', 0, 1000),
  minImprovement: number('smallest workload gain worth an index, a ratio (--min-improvement; default 0.10)', {min: 0, max: 1}),
  verifyReal: boolean('build proposed indexes for real inside a rolled-back transaction (--verify-real; scratch databases only)'),
  scratch: boolean('this database is a scratch copy: with COMMENT ON DATABASE ... \'chokepoint:scratch\', allows verifyReal'),
  maxStatements: count('statements read from pg_stat_statements by postgres.plans (default 100)', 1, 10_000),
  maxWhatIfCalls: count('what-if EXPLAIN calls per audit at most (default 20000)', 1, 1_000_000),
  indexesFirstShare: number('share of statement time the indexes must save for the path verdict to say "fix the indexes first" (default 0.5)', {min: 0, max: 1}),
  warnSavedMsPerSecond: number('statement time an index saves, ms per second, from which it is a warning (default 10; below: info)', {min: 0, max: 1e9}),
  warnSavedMsPerCall: number('statement time an index saves on each call of one statement, ms, from which it is a warning too (default 5)', {min: 0, max: 1e9}),
  minSavedMsPerSecond: number('statement time an index saves, ms per second, below which it gets no finding of its own (default 0: off)', {min: 0, max: 1e9}),
}

/** Facts about the server the read-replica advisor needs; its thresholds are the rule's heuristic (rules/database/read-replica.yaml). */
const READ_REPLICA_OPTIONS: OptionSpecs = {
  cpuCores: number('CPU cores of this database server: statement time per second over them is its load when no Prometheus CPU reading names it', {min: 0.01, max: 100_000}),
  coresPerReplica: number('CPU cores of each proposed replica (default: cpuCores)', {min: 0.01, max: 100_000}),
  cpuSubject: string('the Prometheus CPU subject (job/instance) of this database server, when its host name does not identify it'),
}

const POSTGRES_OPTIONS: OptionSpecs = {
  statementTimeoutMs: timeoutMs('statement_timeout of chokepoint\'s session (default 10000)', 600_000),
  lockTimeoutMs: count('lock_timeout of chokepoint\'s session (default 1000)', 1, 60_000),
  applyStatementTimeoutMs: timeoutMs('apply: statement_timeout of the index appliers\' write session (default: off; an index build may take hours)', 7 * 86_400_000),
  connectTimeoutMs: timeoutMs('connection timeout (default 5000)'),
  unsafeRawQueryTexts: boolean('UNSAFE: also keep the server\'s raw query texts (rawQuery) in postgres.activity/statements readings; they may hold passwords and tokens'),
  scratch: boolean('this database is a scratch copy: allows --verify-real (with COMMENT ON DATABASE ... \'chokepoint:scratch\')'),
  indexAdvisor: object('index advisor: {queries, indexBudgetBytes, maxIndexes, minImprovement, verifyReal, scratch, maxStatements, maxWhatIfCalls, warnSavedMsPerSecond, warnSavedMsPerCall, minSavedMsPerSecond, indexesFirstShare}', {properties: INDEX_ADVISOR_OPTIONS}),
  cacheTopN: count('postgres.cache-hit: tables listed (default 20)', 1, 1000),
  cacheMinBlocks: count('postgres.cache-hit: blocks read before a hit rate is judged (default 1000)', 1, 1e12),
  tablesMinRows: count('postgres.tables: smallest table judged for sequential scans (default 1000)', 1, 1e12),
  tablesMetricLimit: count('postgres.tables: tables measured per metric (default 200)', 1, 10_000),
  tablesTopN: count('postgres.tables: tables listed per list (default 50)', 1, 1000),
  tablesWriteRates: count('postgres.tables: most-written tables whose write rates the index advisor reads (default 200)', 1, 10_000),
  statementsLimit: count('postgres.statements: statements read (default 50)', 1, 10_000),
  statementsBaselineLimit: count('postgres.statements: statements kept in the window baseline (default 10000)', 1, 100_000),
  xidDatabaseLimit: count('postgres.xid-age: databases listed (default 50)', 1, 10_000),
  xidTableLimit: count('postgres.xid-age: tables listed (default 10)', 1, 10_000),
  locksTopN: count('postgres.locks: lock waits read, longest first (default 50)', 1, 10_000),
  preparedXactsTopN: count('postgres.prepared-xacts: prepared transactions listed, oldest first (default 20)', 1, 1000),
  connectionsTopN: count('postgres.connections: roles and states listed (default 10)', 1, 1000),
  activityTopN: count('postgres.activity: sessions listed (default 20)', 1, 1000),
  indexesDataLimit: count('postgres.indexes: indexes kept in the reading (default 5000)', 1, 100_000),
  indexesFlaggedLimit: count('postgres.indexes: unused, duplicate and invalid indexes listed, each (default 100)', 1, 10_000),
  shardPlan: count('shard-key advisor: plan for this many shards and show the plan whatever the verdict (--shard-plan N; without it: 32, and only when sharding is warranted)', 2, 4096),
  shardTables: count('postgres.column-stats: largest tables read for the shard-key advisor (default 20)', 1, 1000),
  shardSampleTables: count('postgres.column-stats: largest tables whose candidate columns are sampled (default 5)', 1, 100),
  shardSampleRows: count('postgres.column-stats: rows sampled per table for the hash simulation (default 10000)', 100, 1_000_000),
  shardSampleMs: count('postgres.column-stats: wall time sampling may take, ms (default 2000)', 1, 60_000),
  readReplica: object('read-replica advisor: {cpuCores, coresPerReplica, cpuSubject}', {properties: READ_REPLICA_OPTIONS}),
  ...STACK_ADVISOR_OPTIONS,
}

// Redis's own default COUNT is 10: fewer keys per SCAN only multiplies the calls and the pauses between them
// (COUNT 1 took a 0.7 s audit to 9 s); more than 100 makes one call long enough for other clients to feel.
const scanCount = (description: string) => count(description, 10, 100)

const REDIS_QUEUE_OPTIONS: OptionSpecs = {
  maxQueues: count('queues read per framework at most (default 1000)', 1, 100_000),
  maxScanCalls: count('SCAN calls per discovery pass at most (default 1000)', 1, 100_000),
  scanCount: scanCount('SCAN COUNT hint of discovery (default 100)'),
  scanPauseMs: number('pause between discovery SCAN calls (default 1)', {min: 0, max: 1000}),
  bullmqPrefixes: array('BullMQ key prefixes (default [bull])', {items: string('a prefix')}),
  sidekiqNamespace: string('Sidekiq key namespace (redis-namespace; default none)'),
  celeryQueues: array('Celery queues to read besides those discovered', {items: string('a queue name')}),
  failureSamples: count('recent failures sampled per queue (default 3)', 0, 100),
  recentFailureSeconds: number('lookback of failed-job growth: failures dated (by their own timestamps) within it count, whatever --window (default 900)', {min: 1, max: 7 * 86_400}),
  retryScanLimit: count('Sidekiq retry jobs read at most (the soonest due) to date their latest failure (default 500)', 1, 100_000),
  clientList: boolean('read BullMQ workers from CLIENT LIST (default true)'),
}

const REDIS_OPTIONS: OptionSpecs = {
  sampleKeys: count('redis.keys: keys read at most, over all primaries (default 10000)', 1, 1_000_000),
  scanCount: scanCount('redis.keys: SCAN COUNT hint (default 100)'),
  scanPauseMs: number('redis.keys: pause between SCAN calls (default 2)', {min: 0, max: 1000}),
  topPatterns: count('redis.keys: key patterns kept, by memory (default 100)', 1, 1000),
  coldIdleSeconds: number('redis.keys: idle time after which a key counts as unread (default 86400)', {min: 60, max: 365 * 86_400}),
  queues: object('queue probes on this Redis: {maxQueues, maxScanCalls, scanCount, scanPauseMs, bullmqPrefixes, sidekiqNamespace, celeryQueues, failureSamples, recentFailureSeconds, retryScanLimit, clientList}', {properties: REDIS_QUEUE_OPTIONS}),
  ttlMinKeys: count('ttl advisor: sampled keys a pattern needs before it is judged (default 3)', 1, 1_000_000),
  noTtlShare: ratio('ttl advisor: share of keys without TTL from which a pattern is reported (default 0.5)'),
  unreadShare: ratio('ttl advisor: share of unread keys for a write-only finding (default 0.8)'),
  unreadMinKeys: count('ttl advisor: keys judged before a write-only finding (default 5)', 1, 1_000_000),
  warnMemoryShare: ratio('ttl advisor: memory share from which a pattern finding is a warning (default 0.05)'),
  evictionNoTtlShare: ratio('ttl advisor: memory share without TTL that makes evictions a finding (default 0.2)'),
  ttlTargetHitRate: number('ttl advisor: hit rate a proposed cache TTL aims for at the observed read interval (default 0.9)', {min: 0.01, max: 0.999}),
  ttlStalenessSeconds: number('ttl advisor: longest a cache entry may live; backfilled TTLs (t..2t) stay within it (default 3600)', {min: 2, max: 30 * 86_400}),
  ttlApplyMaxKeys: count('ttl applier: keys given a TTL at most per apply run (default 10000)', 1, 10_000_000),
  ttlApplyUndoKeys: count('ttl applier: keys named one by one in the journal; past it a count, a sample and the expiry range (default 100000)', 0, 1_000_000),
  ttlApplyPauseMs: number('ttl applier: pause between batches in ms (default 10)', {min: 0, max: 10_000}),
}

const PROMETHEUS_QUERIES: OptionSpecs = Object.fromEntries(
  ['latencyP95', 'latencyP99', 'errorRate', 'cpu', 'memory', 'poolActive', 'poolTotal', 'poolIdle', 'poolWaiting', 'poolMax']
    .map((name) => [name, string(`PromQL for ${name} ({{window}} and {{by}} are filled in)`)]),
)

const PROMETHEUS_OPTIONS: OptionSpecs = {
  mode: string('"server" (a Prometheus server) or "scrape" (a bare /metrics endpoint); detected from the URL when absent', {values: ['server', 'scrape']}),
  timeoutMs: timeoutMs('HTTP timeout (default 10000)'),
  bearerToken: string('Authorization: Bearer token'),
  basicAuth: object('{username, password} for basic authentication', {required: ['username', 'password'], properties: {
    username: string('user name'),
    password: string('password'),
  }}),
  window: string('lookback of every Prometheus reading on this target whose rule has none set in the config (default: the rule\'s lookback, 5m)'),
  sustainRange: string('range of the short-step rate the level held through a lookback is read from (default: a fifth of the lookback; at least twice the scrape interval)'),
  groupBy: string('labels the HTTP metrics are grouped by (default job)'),
  resourceGroupBy: string('labels CPU and memory are grouped by (default "job, instance")'),
  queries: object('PromQL per reading: latencyP95, latencyP99, errorRate, cpu, memory, poolActive, poolTotal, poolIdle, poolWaiting, poolMax', {properties: PROMETHEUS_QUERIES}),
  cpuCores: number('cores per instance, to turn process CPU seconds into a utilisation (default 1)', {min: 0.01, max: 100_000}),
  memoryLimitBytes: number('memory limit per instance when no limit is scraped', {integer: true, min: 1, max: 2 ** 53 - 1}),
  appPoolMax: count('application pool max when the pool gauges do not export it', 1, 1_000_000),
}

const RABBITMQ_OPTIONS: OptionSpecs = {
  vhost: string('virtual host (default / or the URL path)'),
  managementUrl: string('management API base URL (default http://host:15672)'),
  amqpPort: count('AMQP port when the target URL is the management API', 1, 65_535),
  timeoutMs: timeoutMs('timeout (default 5000)'),
  queues: array('queue names to read by passive declare when the management API is absent', {items: string('a queue name')}),
  maxQueues: count('queues read at most (default 1000)', 1, 100_000),
}

const NATS_OPTIONS: OptionSpecs = {
  timeoutMs: timeoutMs('timeout (default 5000)'),
  maxQueues: count('streams and consumers read at most (default 1000)', 1, 100_000),
  consumerActiveSeconds: number('a consumer seen within this many seconds counts as attached (default 60)', {min: 1, max: 30 * 86_400}),
}

const MYSQL_OPTIONS: OptionSpecs = {
  statementTimeoutMs: timeoutMs('max_statement_time (MariaDB) / max_execution_time (MySQL) of chokepoint\'s session, ms (default 10000)', 600_000),
  lockWaitTimeoutMs: count('innodb_lock_wait_timeout and lock_wait_timeout of chokepoint\'s session, ms, rounded to whole seconds (default 1000)', 1000, 60_000),
  indexesFlaggedLimit: count('mysql.index-health: duplicate and unused indexes and tables without a primary key listed, each (default 100)', 1, 10_000),
  connectTimeoutMs: timeoutMs('connection timeout (default 5000)'),
  statementsTopN: count('mysql.statements: digests read, by total time (default 50)', 1, 10_000),
  sessionsTopN: count('mysql.sessions: longest transactions and lock waits read (default 20)', 1, 1000),
}

const PGBOUNCER_OPTIONS: OptionSpecs = {
  connectTimeoutMs: timeoutMs('connection timeout (default 5000)'),
  queryTimeoutMs: timeoutMs('SHOW command timeout (default 10000)', 600_000),
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
        'postgres.locks': ['db.lock.wait_seconds'],
        'postgres.cache-hit': ['db.cache.hit_ratio'],
        'postgres.tables': ['db.table.seq_scan_share', 'postgres.table.dead_tuple_ratio'],
        'postgres.xid-age': ['postgres.xid.age_ratio'],
        'postgres.prepared-xacts': ['postgres.prepared_xact.age_seconds'],
        'postgres.statements': ['db.statement.mean_seconds'],
        'postgres.indexes': ['db.index.unused_bytes', 'db.index.duplicate_bytes', 'postgres.index.invalid'],
        'postgres.replication': ['replication.lag_seconds', 'replication.inactive_slot.retained_bytes'],
        'postgres.wal': [],
        'postgres.plans': ['postgres.plans.unplannable'],
        'postgres.column-stats': [],
      },
      driver: async () => (await import('./drivers/postgres.js')).postgresDriver,
      probes: async () => (await import('./probes/postgres/index.js')).postgresProbes,
    },
    {
      kind: 'mysql',
      title: 'MySQL / MariaDB',
      flag: 'mysql',
      summary: 'MySQL or MariaDB URL (repeatable), e.g. mysql://chokepoint:pw@host:3306/. Default: MYSQL_URL.',
      env: ['MYSQL_URL'],
      schemes: ['mysql:', 'mariadb:'],
      example: 'mysql://user@host:3306/db',
      urlProblem: mysqlUrlProblem,
      options: MYSQL_OPTIONS,
      probeMetrics: {
        'mysql.connections': ['pool.utilization'],
        'mysql.sessions': ['db.query.duration_seconds', 'db.idle_in_transaction.seconds', 'db.lock.wait_seconds'],
        'mysql.buffer-pool': ['db.cache.hit_ratio'],
        'mysql.statements': ['db.statement.mean_seconds', 'mysql.statement.full_scan_share', 'mysql.statement.tmp_disk_share'],
        'mysql.replication': ['replication.lag_seconds', 'mysql.replication.threads_stopped'],
        'mysql.index-health': ['db.index.duplicate_bytes', 'db.index.unused_bytes', 'mysql.table.no_primary_key'],
      },
      driver: async () => (await import('./drivers/mysql.js')).mysqlDriver,
      probes: async () => (await import('./probes/mysql/index.js')).mysqlProbes,
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
    {id: 'working-set', scope: 'postgres', description: 'Low buffer-cache hit rates of a database as one problem, weighed by their read time', load: async () => (await import('./advisors/working-set.js')).workingSetAdvisor},
    {id: 'pool-chain', scope: 'stack', description: 'App pools x instances, PgBouncer pools and max_connections budgeted together', load: async () => (await import('./advisors/pool-chain.js')).poolChainAdvisor},
    {id: 'cache-aside', scope: 'postgres', description: 'Costly repeated reads a cache could serve: key, TTL from the write rate, hit rate, memory', load: async () => (await import('./advisors/cache-aside.js')).cacheAsideAdvisor},
    {id: 'shard-key', scope: 'postgres', description: 'Distribution columns, co-location and reference tables for Citus, when the workload outgrows one node (or with --shard-plan)', load: async () => (await import('./advisors/shard-key.js')).shardKeyAdvisor},
    {id: 'n-plus-one', scope: 'postgres', description: 'Per-row lookups by foreign key whose calls track a parent statement\'s rows (N+1 queries)', load: async () => (await import('./advisors/n-plus-one.js')).nPlusOneAdvisor},
    {id: 'read-replica', scope: 'postgres', description: 'Read replicas from the read share, the primary\'s saturation, lag and WAL rate', load: async () => (await import('./advisors/read-replica.js')).readReplicaAdvisor},
  ],
  appliers: [
    {id: 'postgres-index', remedyKinds: ['index'], targetKinds: ['postgres'], description: 'CREATE INDEX CONCURRENTLY under a growing lock_timeout, verified by EXPLAIN; rolled back with DROP INDEX CONCURRENTLY',
      load: async () => (await import('./appliers/postgres-index.js')).postgresIndexApplier},
    {id: 'postgres-drop-index', remedyKinds: ['drop-index'], targetKinds: ['postgres'], description: 'DROP INDEX CONCURRENTLY of a redundant or unused index, its definition kept so rollback recreates it',
      load: async () => (await import('./appliers/postgres-drop-index.js')).postgresDropIndexApplier},
    // Only a backfill of one cache pattern: a session's sliding expiry is the application's to set, and a summary
    // remedy names no one pattern.
    {id: 'ttl', remedyKinds: ['ttl'], targetKinds: ['redis'],
      serves: (r) => r.kind === 'ttl' && !r.sliding && typeof r.pattern === 'string' && typeof r.ttlSeconds === 'number', description: 'Backfills a jittered TTL (EXPIRE NX) on the keys of a cache pattern; rollback PERSISTs the keys that still carry it',
      load: async () => (await import('./appliers/redis-ttl.js')).redisTtlApplier},
  ],
  reporters: [
    {format: 'table', description: 'terminal tables (colour on a TTY)', load: async () => (await import('./reporters/table.js')).renderTable},
    {format: 'json', description: 'the JSON report (schemas/report.schema.json)', load: async () => (await import('./reporters/json.js')).renderJson},
    {format: 'markdown', description: 'Markdown for pull requests and step summaries', load: async () => (await import('./reporters/markdown.js')).renderMarkdown},
    {format: 'html', description: 'one self-contained HTML page with charts, for on-call reviews (works offline)', load: async () => (await import('./reporters/html.js')).renderHtml},
    {format: 'sarif', description: 'SARIF 2.1.0 for GitHub code scanning (one result per finding)', load: async () => (await import('./reporters/sarif.js')).renderSarif},
    {format: 'junit', description: 'JUnit XML for CI test reports (one testcase per check)', load: async () => (await import('./reporters/junit.js')).renderJunit},
  ],
})

/** The kinds and formats chokepoint ships, for flags and docs that must exist before any plugin is loaded. */
export const BUILTIN_KINDS = builtinPlugin.targetKinds ?? []
export const BUILTIN_FORMATS = (builtinPlugin.reporters ?? []).map((r) => r.format)

export function builtinRegistry(...plugins: Parameters<Registry['with']>): Registry {
  return new Registry([builtinPlugin, ...plugins])
}
