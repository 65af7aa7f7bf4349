import {Flags} from '@oclif/core'
import {BUILTIN_FORMATS, BUILTIN_KINDS} from '../builtin.js'
import {UsageError} from '../core/errors.js'

/**
 * Where the stack is: one repeatable flag per target kind, from the kinds' definitions; environment variables fill in
 * kinds no flag or config names. (oclif flags are static, so a plugin's own kinds are configured in the config file.)
 */
/**
 * A whole-number flag within bounds, whose error says the range it accepts ("--max-indexes: a whole number from
 * 0 to 1000, not abc") instead of oclif's "Expected an integer greater than or equal to ...".
 */
export function wholeNumberFlag(options: {summary: string; min: number; max: number; helpGroup?: string; env?: string}) {
  const {min, max, ...rest} = options
  return Flags.custom<number>({
    ...rest,
    async parse(input) {
      const value = /^[-+]?\d+$/.test(input.trim()) ? Number(input.trim()) : Number.NaN
      if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`a whole number from ${min} to ${max}, not ${JSON.stringify(input)}`)
      return value
    },
  })()
}

export const targetFlags = {
  ...Object.fromEntries(BUILTIN_KINDS.filter((k) => k.flag).map((k) => [k.flag!, Flags.string({summary: k.summary, multiple: true, helpGroup: 'TARGET'})])),
  config: Flags.string({char: 'c', summary: 'Config file (default: chokepoint.config.yaml|yml|json in the current directory).', env: 'CHOKEPOINT_CONFIG'}),
}

/** Fleets: which configured targets to audit, and how many at once (audit, check, capture, watch; docs/fleets.md). */
export const fleetFlags = {
  target: Flags.string({summary: 'Audit only these targets: a name, a glob over names (eu-*) or group:NAME (repeatable).', multiple: true, helpGroup: 'TARGET'}),
  concurrency: Flags.string({summary: 'Targets connected and sampled at once (default: 4 per CPU, at least 8; config key concurrency).', helpGroup: 'TARGET', env: 'CHOKEPOINT_CONCURRENCY'}),
}

export const evaluationFlags = {
  window: Flags.string({summary: 'Sampling window for counters, e.g. 10s; 0 reads counters since the last stats reset.', env: 'CHOKEPOINT_WINDOW'}),
  'fail-on': Flags.string({summary: 'Lowest severity that fails the gate (exit 1).', options: ['critical', 'warning', 'info', 'never'], env: 'CHOKEPOINT_FAIL_ON'}),
}

export const advisorFlags = {
  queries: Flags.string({summary: 'SQL file of statements to advise on (optional "-- weight: N" comment before each).', helpGroup: 'INDEX ADVISOR'}),
  query: Flags.string({summary: 'One SQL statement to advise on (repeatable).', multiple: true, helpGroup: 'INDEX ADVISOR'}),
  'index-budget': Flags.string({summary: 'Storage budget for proposed indexes, e.g. 500MB.', helpGroup: 'INDEX ADVISOR'}),
  'max-indexes': wholeNumberFlag({summary: 'Most indexes to propose (0 to 1000).', min: 0, max: 1000, helpGroup: 'INDEX ADVISOR'}),
  'min-improvement': Flags.string({summary: 'Smallest workload gain worth an index, e.g. 10%.', helpGroup: 'INDEX ADVISOR'}),
  'verify-real': Flags.boolean({summary: 'Build proposed indexes for real, scratch databases only (PostgreSQL: inside a rolled-back transaction; MySQL/MariaDB: built, re-EXPLAINed, dropped).', helpGroup: 'INDEX ADVISOR'}),
  'shard-plan': wholeNumberFlag({summary: 'Plan shard keys for N shards and show the plan whether or not sharding is warranted yet (2 to 4096).', min: 2, max: 4096, helpGroup: 'SHARD KEY'}),
}

/** Progress on stderr (a bar on a terminal, a line every few seconds otherwise) for the slow parts; --quiet for none. */
export const progressFlags = {
  quiet: Flags.boolean({char: 'q', summary: 'No progress or status lines on stderr (errors still are).'}),
}
/** SARIF results need a file of the repository; findings with no config file or --queries line to point at use this one. */
export const sarifAnchorFlag = Flags.string({summary: 'File SARIF results point at when no config file or --queries line applies (default: chokepoint.config.yaml if present, else README.md).'})

export const outputFlags = {
  // Not restricted to the built-in formats: a plugin may register more; an unknown one fails with the list.
  format: Flags.string({char: 'f', multiple: true, summary: `Report format: ${BUILTIN_FORMATS.join(', ')}, or one a plugin adds; FORMAT=FILE writes it to FILE (repeatable: one audit, several outputs, at most one on stdout).`}),
  json: Flags.boolean({summary: 'Same as --format json.'}),
  output: Flags.string({char: 'o', summary: 'Write the report to this file instead of stdout (with a single --format).'}),
  'sarif-anchor': sarifAnchorFlag,
  color: Flags.boolean({summary: 'Colour the table report (default: on a TTY unless NO_COLOR is set).', allowNo: true}),
  verbose: Flags.boolean({char: 'v', summary: 'Also print the queries and commands issued per target.'}),
}
