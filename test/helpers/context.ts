/** The run context tests give the core: the built-in registry and a fresh secret registry per test. */
import {builtinRegistry} from '../../src/builtin.js'
import {newSecrets, type CliContext} from '../../src/cli/context.js'
import {effectiveRules, type ChokepointConfig} from '../../src/core/config.js'
import type {Evaluation} from '../../src/core/engine.js'

export const registry = builtinRegistry()
export const rules = () => registry.rules()

export function testContext(): CliContext {
  return {registry, secrets: newSecrets()}
}

/** What the engine needs: the config's rules per target and no appliers. */
export function evaluation(config: ChokepointConfig = {}): Evaluation {
  return {rulesFor: (target) => effectiveRules(config, target, registry.rules()), applierFor: () => null}
}
