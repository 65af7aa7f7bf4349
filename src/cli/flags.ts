import {Flags} from '@oclif/core'
import {REPORT_FORMATS} from '../reporters/index.js'

/** Where the stack is: every kind is repeatable; environment variables fill in kinds no flag or config names. */
export const targetFlags = {
  pg: Flags.string({summary: 'PostgreSQL URL (repeatable). Default: DATABASE_URL or libpq PG* variables.', multiple: true, helpGroup: 'TARGET'}),
  pgbouncer: Flags.string({summary: 'PgBouncer admin console URL, e.g. postgres://stats_user:pw@host:6432/pgbouncer (repeatable).', multiple: true, helpGroup: 'TARGET'}),
  redis: Flags.string({summary: 'Redis URL (repeatable). Default: REDIS_URL.', multiple: true, helpGroup: 'TARGET'}),
  amqp: Flags.string({summary: 'RabbitMQ AMQP URL (repeatable). Default: AMQP_URL.', multiple: true, helpGroup: 'TARGET'}),
  nats: Flags.string({summary: 'NATS URL for JetStream (repeatable). Default: NATS_URL.', multiple: true, helpGroup: 'TARGET'}),
  prometheus: Flags.string({summary: 'Prometheus server URL (repeatable). Default: PROMETHEUS_URL.', multiple: true, helpGroup: 'TARGET'}),
  config: Flags.string({char: 'c', summary: 'Config file (default: chokepoint.config.yaml|yml|json in the current directory).', env: 'CHOKEPOINT_CONFIG'}),
}

export const evaluationFlags = {
  window: Flags.string({summary: 'Sampling window for counters, e.g. 10s; 0 reads counters since the last stats reset.', env: 'CHOKEPOINT_WINDOW'}),
  'fail-on': Flags.string({summary: 'Lowest severity that fails the gate (exit 1).', options: ['critical', 'warning', 'info', 'never'], env: 'CHOKEPOINT_FAIL_ON'}),
}

export const advisorFlags = {
  queries: Flags.string({summary: 'SQL file of statements to advise on (optional "-- weight: N" comment before each).', helpGroup: 'INDEX ADVISOR'}),
  query: Flags.string({summary: 'One SQL statement to advise on (repeatable).', multiple: true, helpGroup: 'INDEX ADVISOR'}),
  'index-budget': Flags.string({summary: 'Storage budget for proposed indexes, e.g. 500MB.', helpGroup: 'INDEX ADVISOR'}),
  'max-indexes': Flags.integer({summary: 'Most indexes to propose.', min: 0, helpGroup: 'INDEX ADVISOR'}),
  'min-improvement': Flags.string({summary: 'Smallest workload gain worth an index, e.g. 10%.', helpGroup: 'INDEX ADVISOR'}),
  'verify-real': Flags.boolean({summary: 'Build proposed indexes for real inside a rolled-back transaction (scratch databases only).', helpGroup: 'INDEX ADVISOR'}),
}

export const outputFlags = {
  format: Flags.string({char: 'f', summary: 'Report format.', options: [...REPORT_FORMATS]}),
  json: Flags.boolean({summary: 'Same as --format json.'}),
  output: Flags.string({char: 'o', summary: 'Write the report to this file instead of stdout.'}),
  color: Flags.boolean({summary: 'Colour the table report (default: on a TTY unless NO_COLOR is set).', allowNo: true}),
  verbose: Flags.boolean({char: 'v', summary: 'Also print the queries and commands issued per target.'}),
}
