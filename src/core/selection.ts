import {minimatch} from 'minimatch'
import {ConfigError} from './errors.js'
import type {TargetSpec} from './types.js'

/**
 * Whether a target name matches a glob (`*`, `?`, `[a-z]`, `{a,b}`, `!(x)`), as minimatch reads it. Target names are
 * not paths: the default ones hold a `/` (postgres:db:5432/shop), and `postgres:*` must match them, so `/` is an
 * ordinary character on both sides (a `*` runs across it).
 */
export function matchesTargetGlob(name: string, glob: string): boolean {
  const plain = (text: string) => text.replaceAll('/', '\u0001')
  return minimatch(plain(name), plain(glob), {dot: true, nocomment: true, nonegate: true})
}

/**
 * The targets `--target` picks, in their configured order: each selector is a name, a glob over names, or
 * `group:NAME` (a group name or a glob over group names). A selector that picks nothing is a config error that lists
 * what there is, since it is a typo or a stale CI setting, never "audit nothing".
 */
export function selectTargets(targets: readonly TargetSpec[], selectors: readonly string[]): TargetSpec[] {
  if (selectors.length === 0) return [...targets]
  const picked = new Set<TargetSpec>()
  for (const raw of selectors) {
    const selector = raw.trim()
    const group = selector.startsWith('group:') ? selector.slice('group:'.length) : undefined
    const matches = targets.filter((t) => (group === undefined
      ? t.name === selector || matchesTargetGlob(t.name, selector)
      : t.group !== undefined && (t.group === group || matchesTargetGlob(t.group, group))))
    if (matches.length === 0) throw new ConfigError(`--target ${selector}: matches no ${group === undefined ? 'target' : 'group'}; ${available(targets)}`)
    for (const t of matches) picked.add(t)
  }
  return targets.filter((t) => picked.has(t))
}

/** What a selector can pick, for its error: the names (the first 20) and the groups. */
function available(targets: readonly TargetSpec[]): string {
  if (targets.length === 0) return 'no targets are configured (list them in the config file, or pass --pg/--redis URLs)'
  const names = targets.map((t) => t.name)
  const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')} and ${names.length - 20} more` : names.join(', ')
  const groups = [...new Set(targets.flatMap((t) => (t.group === undefined ? [] : [t.group])))]
  return `targets: ${shown}; groups: ${groups.length ? groups.map((g) => `group:${g}`).join(', ') : 'none (set group: on config targets)'}`
}
