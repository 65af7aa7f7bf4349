import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {builtinRegistry} from '../builtin.js'
import {ConfigError, errorMessage} from '../core/errors.js'
import type {Instrumentation} from '../core/instrumentation.js'
import type {PluginDefinition} from '../core/plugin.js'
import type {Registry} from '../core/registry.js'
import {SecretRegistry} from '../core/redact.js'
import type {Secrets} from '../core/secrets.js'

/** What every command's work is given: the run's parts, and the secrets this run must keep out of its output. */
export interface CliContext {
  registry: Registry
  secrets: Secrets
  /** The run's traces (src/telemetry), when the OTEL_* environment asks for them; absent otherwise. */
  instrumentation?: Instrumentation
}

/** The part of an oclif plugin chokepoint reads: its root and its package.json. */
export interface OclifPluginInfo {
  name: string
  root: string
  pjson: object
}

/**
 * chokepoint plugins are oclif plugins (installed or linked with `chokepoint plugins`) whose package.json names the
 * module that exports their definePlugin({...}) under "chokepoint": {"plugin": "./dist/plugin.js"}. They may add
 * commands too, as any oclif plugin does.
 */
export async function loadExternalPlugins(plugins: Iterable<OclifPluginInfo>): Promise<PluginDefinition[]> {
  const out: PluginDefinition[] = []
  for (const plugin of plugins) {
    const entry = (plugin.pjson as {chokepoint?: {plugin?: unknown}}).chokepoint?.plugin
    if (typeof entry !== 'string' || !entry) continue
    const file = join(plugin.root, entry)
    if (!existsSync(file)) throw new ConfigError(`plugin ${plugin.name}: "chokepoint.plugin" names ${entry}, which does not exist (build the plugin, or fix its package.json)`)
    let module: {default?: PluginDefinition; plugin?: PluginDefinition}
    try {
      module = await import(pathToFileURL(file).href)
    } catch (error) {
      throw new ConfigError(`plugin ${plugin.name}: cannot load ${entry}: ${errorMessage(error).split('\n')[0]}`)
    }
    const definition = module.default ?? module.plugin
    if (!definition?.name) throw new ConfigError(`plugin ${plugin.name}: ${entry} must export definePlugin({name, ...}) as default or as "plugin"`)
    out.push(definition)
  }
  return out
}

export async function cliContext(plugins: Iterable<OclifPluginInfo> = []): Promise<CliContext> {
  return {registry: builtinRegistry(...await loadExternalPlugins(plugins)), secrets: newSecrets()}
}

/** A secret registry for one run: nothing it learns outlives the run or leaks into another audit in the process. */
export function newSecrets(): Secrets {
  return new SecretRegistry()
}
