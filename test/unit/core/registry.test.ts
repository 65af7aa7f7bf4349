import {readdirSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {builtinPlugin, builtinRegistry} from '../../../src/builtin.js'
import {definePlugin} from '../../../src/core/plugin.js'
import {Registry} from '../../../src/core/registry.js'
import {DEFAULT_RULES_DIR} from '../../../src/core/rules.js'

describe('the plugin registry', () => {
  const registry = builtinRegistry()

  it('registers the built-ins as one plugin: seven target kinds, seven advisors, six formats, three appliers', () => {
    expect(registry.kindNames()).toEqual(['postgres', 'mysql', 'pgbouncer', 'redis', 'rabbitmq', 'nats', 'prometheus'])
    expect(registry.advisorDefinitions().map((a) => a.id)).toEqual(['ttl', 'index', 'workers', 'working-set', 'pool-chain', 'cache-aside', 'shard-key', 'n-plus-one', 'read-replica'])
    expect(registry.formats()).toEqual(['table', 'json', 'markdown', 'html', 'sarif', 'junit'])
    expect(registry.applierFor('index')).toBe('postgres-index')
    expect(registry.applierFor('drop-index')).toBe('postgres-drop-index')
    expect(registry.applierFor('ttl')).toBe('ttl')
  })

  it.each(builtinPlugin.targetKinds!.map((k) => [k.kind]))('declares exactly the probes the %s kind loads, in order', async (kind) => {
    const probes = await registry.probesFor(kind)
    expect(probes.map((p) => p.id)).toEqual(Object.keys(registry.probeMetrics(kind)))
    for (const probe of probes) expect(probe.kind).toBe(kind)
  })

  it('declares every rule metric some probe emits, so every threshold rule applies to some kind', () => {
    const emitted = new Set(registry.kinds().flatMap((k) => Object.values(k.probeMetrics).flat()))
    const unbound = registry.rules().filter((r) => r.evaluator === 'metric' && !emitted.has(r.metric!)).map((r) => r.id)
    expect(unbound).toEqual([])
  })

  it('names an advisor rule only for a registered advisor', () => {
    const advisors = new Set(registry.advisorDefinitions().map((a) => a.id))
    expect(registry.rules().filter((r) => r.evaluator === 'advisor' && !advisors.has(r.advisor!)).map((r) => r.id)).toEqual([])
  })

  it('refuses two plugins that define the same kind, format or name, and probes for a kind nobody defines', () => {
    const kind = builtinPlugin.targetKinds![0]
    expect(() => registry.with(definePlugin({name: 'again', targetKinds: [kind]}))).toThrow(/target kind postgres is defined by both chokepoint and again/)
    expect(() => registry.with(definePlugin({name: 'chokepoint'}))).toThrow(/plugin chokepoint is registered twice/)
    expect(() => registry.with(definePlugin({name: 'fmt', reporters: [{format: 'json', description: 'x', load: async () => () => ''}]})))
      .toThrow(/report format json is defined by both chokepoint and fmt/)
    expect(() => registry.with(definePlugin({name: 'lost', probes: [{kind: 'mongo', probes: {'mongo.x': []}, load: async () => []}]})))
      .toThrow(/adds probes to target kind mongo, which no plugin defines/)
    expect(() => new Registry([{} as never])).toThrow(/must have a name/)
  })

  it('adds a plugin\'s probes to an existing kind and names its applier on remedies of its kinds', async () => {
    const extra = registry.with(definePlugin({
      name: 'extra',
      probes: [{kind: 'redis', probes: {'redis.extra': ['extra.metric']}, load: async () => [{id: 'redis.extra', kind: 'redis', description: 'd', collect: async () => ({metrics: []})}]}],
      appliers: [{id: 'extra-cache-aside', remedyKinds: ['cache-aside'], targetKinds: ['redis'], description: 'd', load: async () => { throw new Error('not loaded by naming') }}],
    }))
    expect((await extra.probesFor('redis')).map((p) => p.id).at(-1)).toBe('redis.extra')
    expect(extra.probeMetrics('redis')['redis.extra']).toEqual(['extra.metric'])
    expect(extra.applierFor('cache-aside')).toBe('extra-cache-aside')
    // The first registered wins: the built-in ttl applier keeps ttl remedies.
    expect(extra.applierFor('ttl')).toBe('ttl')
    expect(extra.applierFor('index')).toBe('postgres-index')
    expect(extra.applierFor('config')).toBeNull()
  })

  it('reads each rule directory once per registry and rejects a directory that does not exist', () => {
    expect(registry.rules()).toBe(registry.rules())
    // Every rule file of the directory, once (counted, not a constant, so a new rule needs no edit here).
    const files = readdirSync(DEFAULT_RULES_DIR, {recursive: true, encoding: 'utf8'}).filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
    expect(files.length).toBeGreaterThan(40)
    expect(registry.rules()).toHaveLength(files.length)
    expect(() => new Registry([{name: 'x', rulesDirs: ['/nonexistent/rules']}]).rules()).toThrow(/rules directory \/nonexistent\/rules does not exist/)
  })
})
