/**
 * The parts of one chokepoint run, built from plugins. Everything the core needs to know about a concrete part
 * comes through here: which target kinds exist, their drivers and probes, the advisors, reporters, appliers and
 * rules. A registry is per run (no module state), so two audits in one process can use different plugins.
 */
import type {Advisor} from './advisor.js'
import type {Applier} from './applier.js'
import type {CheckScope} from './checks.js'
import {TARGET_TIMEOUT_OPTION} from './capture.js'
import {ConfigError} from './errors.js'
import type {AdvisorDefinition, ApplierDefinition, OptionSpecs, PluginDefinition, ReporterDefinition, TargetKindDefinition} from './plugin.js'
import type {Driver, Probe} from './probe.js'
import type {ProposedRemedy, Remedy, RemedyKind} from './remedies.js'
import type {Reporter} from './reporter.js'
import {loadRuleDirs, type RuleDefinition} from './rules.js'

/** Options every target has, whatever its kind: the capture reads them, not a driver. */
const EVERY_TARGET_OPTIONS: OptionSpecs = {
  [TARGET_TIMEOUT_OPTION]: {type: 'number', integer: true, min: 1000, max: 3_600_000,
    description: 'the whole target\'s budget per sample, connect, baselines and collects, in ms (default: the window + 60 s)'},
}

/** What is known about where a remedy applies, to choose its applier. */
export interface ApplierWhere {
  targetKind?: string
  rule?: string
  /** The remedy itself, for an applier that serves only some remedies of its kinds (`serves`). */
  remedy?: Remedy | ProposedRemedy
}

interface ExtraProbes {
  plugin: string
  kind: string
  probes: Record<string, string[]>
  load: () => Promise<Array<Probe<any>>>
}

export class Registry {
  readonly plugins: readonly PluginDefinition[]
  private readonly kindDefs = new Map<string, TargetKindDefinition & {plugin: string}>()
  private readonly extraProbes: ExtraProbes[] = []
  private readonly advisorDefs: Array<AdvisorDefinition & {plugin: string}> = []
  private readonly reporterDefs = new Map<string, ReporterDefinition & {plugin: string}>()
  private readonly applierDefs: Array<ApplierDefinition & {plugin: string}> = []
  private readonly ruleDirs: string[] = []
  private rulesCache?: RuleDefinition[]

  constructor(plugins: PluginDefinition[]) {
    this.plugins = plugins
    const names = new Set<string>()
    for (const plugin of plugins) {
      if (!plugin || typeof plugin.name !== 'string' || !plugin.name) throw new ConfigError('a chokepoint plugin must have a name: export definePlugin({name, ...})')
      if (names.has(plugin.name)) throw new ConfigError(`plugin ${plugin.name} is registered twice`)
      names.add(plugin.name)
      for (const kind of plugin.targetKinds ?? []) {
        const other = this.kindDefs.get(kind.kind)
        if (other) throw new ConfigError(`target kind ${kind.kind} is defined by both ${other.plugin} and ${plugin.name}`)
        this.kindDefs.set(kind.kind, {...kind, plugin: plugin.name})
      }
      for (const extra of plugin.probes ?? []) this.extraProbes.push({plugin: plugin.name, ...extra})
      for (const advisor of plugin.advisors ?? []) {
        if (this.advisorDefs.some((a) => a.id === advisor.id)) throw new ConfigError(`advisor ${advisor.id} is registered twice (plugin ${plugin.name})`)
        this.advisorDefs.push({...advisor, plugin: plugin.name})
      }
      for (const reporter of plugin.reporters ?? []) {
        const other = this.reporterDefs.get(reporter.format)
        if (other) throw new ConfigError(`report format ${reporter.format} is defined by both ${other.plugin} and ${plugin.name}`)
        this.reporterDefs.set(reporter.format, {...reporter, plugin: plugin.name})
      }
      for (const applier of plugin.appliers ?? []) {
        if (this.applierDefs.some((a) => a.id === applier.id)) throw new ConfigError(`applier ${applier.id} is registered twice (plugin ${plugin.name})`)
        this.applierDefs.push({...applier, plugin: plugin.name})
      }
      this.ruleDirs.push(...plugin.rulesDirs ?? [])
    }
    for (const extra of this.extraProbes) {
      if (!this.kindDefs.has(extra.kind)) throw new ConfigError(`plugin ${extra.plugin} adds probes to target kind ${extra.kind}, which no plugin defines`)
    }
  }

  /** A registry with these plugins added after this one's. */
  with(...plugins: PluginDefinition[]): Registry {
    return new Registry([...this.plugins, ...plugins])
  }

  kinds(): TargetKindDefinition[] {
    return [...this.kindDefs.values()]
  }

  kindNames(): string[] {
    return [...this.kindDefs.keys()]
  }

  kind(name: string): TargetKindDefinition | undefined {
    return this.kindDefs.get(name)
  }

  async driverFor(kind: string): Promise<Driver<any> | undefined> {
    return this.kindDefs.get(kind)?.driver()
  }

  async probesFor(kind: string): Promise<Array<Probe<any>>> {
    const def = this.kindDefs.get(kind)
    if (!def) return []
    const own = await def.probes()
    const extra = await Promise.all(this.extraProbes.filter((e) => e.kind === kind).map((e) => e.load()))
    return [...own, ...extra.flat()]
  }

  /** Probe id -> the rule metrics it emits, for every probe of a kind (without loading them). */
  probeMetrics(kind: string): Record<string, string[]> {
    const def = this.kindDefs.get(kind)
    if (!def) return {}
    return Object.assign({}, def.probeMetrics, ...this.extraProbes.filter((e) => e.kind === kind).map((e) => e.probes))
  }

  probeIds(kind?: string): string[] {
    const kinds = kind ? [kind] : this.kindNames()
    return kinds.flatMap((k) => Object.keys(this.probeMetrics(k)))
  }

  /** A kind's options, with those the capture reads of every target (its time budget) added. */
  optionSpecs(kind: string): OptionSpecs {
    const def = this.kindDefs.get(kind)
    return def ? {...EVERY_TARGET_OPTIONS, ...def.options} : {}
  }

  advisorDefinitions(): AdvisorDefinition[] {
    return [...this.advisorDefs]
  }

  async advisors(): Promise<Array<{definition: AdvisorDefinition; advisor: Advisor}>> {
    return Promise.all(this.advisorDefs.map(async (definition) => ({definition, advisor: await definition.load()})))
  }

  formats(): string[] {
    return [...this.reporterDefs.keys()]
  }

  reporterDefinition(format: string): ReporterDefinition | undefined {
    return this.reporterDefs.get(format)
  }

  async reporter(format: string): Promise<Reporter> {
    const def = this.reporterDefs.get(format)
    if (!def) throw new ConfigError(`unknown report format "${format}": use one of ${this.formats().join(', ')}`)
    return def.load()
  }

  applierDefinitions(): ApplierDefinition[] {
    return [...this.applierDefs]
  }

  /**
   * The applier that carries out this kind of remedy, on this kind of target and for this rule's finding when they are
   * known, or null: the first registered wins. An applier that names its `rules` serves only their remedies.
   */
  applierFor(kind: RemedyKind, where: ApplierWhere = {}): string | null {
    return this.applierDefinitionFor(kind, where)?.id ?? null
  }

  applierDefinitionFor(kind: RemedyKind, where: ApplierWhere = {}): ApplierDefinition | undefined {
    return this.applierDefs.find((a) => a.remedyKinds.includes(kind)
      && (where.targetKind === undefined || a.targetKinds.includes(where.targetKind))
      && (a.rules === undefined || (where.rule !== undefined && a.rules.includes(where.rule)))
      && (a.serves === undefined || where.remedy === undefined || a.serves(where.remedy)))
  }

  applierDefinition(id: string): (ApplierDefinition & {plugin: string}) | undefined {
    return this.applierDefs.find((a) => a.id === id)
  }

  /** Loads an applier by id; an unknown id is a one-line ConfigError naming the ones registered. */
  async applier(id: string): Promise<Applier> {
    const def = this.applierDefinition(id)
    if (!def) {
      const known = this.applierDefs.map((a) => a.id)
      throw new ConfigError(`no applier "${id}" is registered${known.length ? ` (registered: ${known.join(', ')})` : ''}: install or link the plugin that provides it`)
    }
    const applier = await def.load()
    if (!applier || applier.id !== id) throw new ConfigError(`applier ${id} (plugin ${def.plugin}): its load() returned ${applier?.id ? `applier "${applier.id}"` : 'no applier'}`)
    return applier
  }

  /** Every plugin's rules, parsed once per registry; a rule id defined twice is an error naming both files. */
  rules(): RuleDefinition[] {
    this.rulesCache ??= loadRuleDirs(this.ruleDirs)
    return this.rulesCache
  }

  /** What the checks need to know about which rules apply to which targets. */
  checkScope(): CheckScope {
    return {
      probeMetrics: (kind) => this.probeMetrics(kind),
      advisorKinds: (advisorId) => {
        const def = this.advisorDefs.find((a) => a.id === advisorId)
        if (!def) return []
        return def.scope === 'stack' ? 'stack' : [def.scope]
      },
    }
  }
}
