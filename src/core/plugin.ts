/**
 * The one shape through which every part joins chokepoint: target kinds (with their driver and probes), advisors,
 * reporters, appliers and rule directories. The built-ins are a plugin like any other (src/builtin.ts); the core
 * only ever sees a Registry built from plugins, so it imports no concrete part.
 *
 * Parts are described by data and loaded on demand: a run pays only for the client libraries and modules of the
 * kinds and formats it uses, and flags, config validation and docs can be generated without loading any of them.
 */
import type {Advisor} from './advisor.js'
import type {Applier} from './applier.js'
import type {Driver, Probe} from './probe.js'
import type {Reporter} from './reporter.js'
import type {ProposedRemedy, Remedy, RemedyKind} from './remedies.js'

/**
 * What an option accepts; validated on config load (and by runAudit for targets given in code), so a misspelled
 * key or a value out of range fails before anything is probed.
 *
 * There is no option that turns a safety setting off (the read-only session, the statement and lock timeouts, the
 * bounds on rows, keys and calls): a bound keeps each such option away from the value that would disable it (a
 * statement_timeout of 0 is none at all), and a setting that must weaken safety would need an option of its own,
 * named `unsafe…` and documented as such.
 */
export interface OptionSpec {
  type: 'number' | 'string' | 'boolean' | 'object' | 'array'
  description: string
  /** Inclusive bounds of a number: outside them a load fails naming the key and the range. */
  min?: number
  max?: number
  /** A whole number (counts, limits, milliseconds). */
  integer?: boolean
  /** The only values a string may take. */
  values?: readonly string[]
  /** The keys of an object, each validated like an option (an unknown one fails with "did you mean"). */
  properties?: OptionSpecs
  /** Keys an object must have. */
  required?: readonly string[]
  /** What each item of an array must be. */
  items?: OptionSpec
}

export type OptionSpecs = Record<string, OptionSpec>

export interface TargetKindDefinition {
  /** The kind's name in config files and reports, e.g. "postgres". */
  kind: string
  /** A person's name for it, e.g. "PostgreSQL". */
  title: string
  /** The repeatable CLI flag that adds a target of this kind (without dashes), e.g. "pg". */
  flag?: string
  /** One line for --help and the README's flag table. */
  summary: string
  /** Environment variables read (in order) when no flag or config names a target of this kind. */
  env?: string[]
  /** A URL from other environment variables (libpq's PG*), tried after `env`; may register secrets it reads. */
  urlFromEnv?: (env: NodeJS.ProcessEnv, secrets: {register(secret: string | undefined): void}) => {url: string; origin: string} | undefined
  /** URL schemes accepted, with the colon: "postgres:". */
  schemes: string[]
  /** An example URL for error messages and docs. */
  example: string
  /**
   * What the kind's URLs may hold beyond scheme://user@host:port/path (query parameters such as ssl-mode): checked
   * with the config, before anything connects. Returns the problem in one line naming the fix, or undefined.
   */
  urlProblem?: (url: URL) => string | undefined
  /** Target options (config `options:` per target or per kind), including those its probes and advisors read. */
  options: OptionSpecs
  /**
   * Each probe `probes()` returns, by id, with the rule metrics it emits: skipProbes is validated and the report's
   * checks know which rules apply to a target of this kind, without loading any probe.
   */
  probeMetrics: Record<string, string[]>
  driver: () => Promise<Driver<any>>
  probes: () => Promise<Probe<any>[]>
}

export interface AdvisorDefinition {
  id: string
  /** A target kind whose targets it advises one at a time, or 'stack' for one call that sees every target. */
  scope: string
  description: string
  load: () => Promise<Advisor>
}

export interface ReporterDefinition {
  format: string
  description: string
  load: () => Promise<Reporter>
}

export interface ApplierDefinition {
  id: string
  /** The remedy kinds it can carry out; the report names this applier on such remedies. */
  remedyKinds: RemedyKind[]
  /** The target kinds it works on (a report's remedy names it only on a target of these kinds). */
  targetKinds: string[]
  /**
   * Optional: only remedies of findings of these rules (an applier for one rule's remedy, e.g. a plugin's own). Without
   * it the applier serves every remedy of its kinds on its target kinds.
   */
  rules?: string[]
  /**
   * Optional: whether it can carry out this remedy of its kinds, from the remedy's own fields (synchronous, without
   * loading the applier). A remedy it does not serve names no applier: it stays advice (a session pattern's ttl
   * remedy, which the application must set, not a backfill).
   */
  serves?: (remedy: Remedy | ProposedRemedy) => boolean
  description: string
  load: () => Promise<Applier>
}

export interface PluginDefinition {
  name: string
  targetKinds?: TargetKindDefinition[]
  /** Probes for a kind another plugin defines (e.g. one more PostgreSQL probe). */
  probes?: Array<{kind: string; probes: Record<string, string[]>; load: () => Promise<Probe<any>[]>}>
  advisors?: AdvisorDefinition[]
  reporters?: ReporterDefinition[]
  appliers?: ApplierDefinition[]
  /** Absolute paths of directories of rule YAML files. */
  rulesDirs?: string[]
}

/** Types a plugin; the registry checks it when it is registered. */
export function definePlugin(plugin: PluginDefinition): PluginDefinition {
  return plugin
}
