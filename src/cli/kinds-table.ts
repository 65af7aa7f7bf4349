import type {TargetKindDefinition} from '../core/plugin.js'

export const KINDS_TABLE_START = '<!-- target kinds: generated from src/builtin.ts by `npm run docs` -->'
export const KINDS_TABLE_END = '<!-- end of target kinds -->'

/** The README's table of target kinds, written from the kinds' own definitions so the two cannot drift apart. */
export function kindsTable(kinds: readonly TargetKindDefinition[]): string {
  const rows = kinds.map((k) => {
    const env = [...k.env ?? [], ...k.urlFromEnv ? ['libpq `PG*`'] : []].map((e) => (e.includes('`') ? e : `\`${e}\``)).join(', ')
    return `| \`${k.kind}\` | ${k.flag ? `\`--${k.flag} URL\`` : ''} | ${env} | ${k.schemes.map((s) => `\`${s}//\``).join(' ')} | \`${k.example}\` |`
  })
  return [KINDS_TABLE_START, '| kind | flag (repeatable) | environment | URL schemes | example |', '| --- | --- | --- | --- | --- |', ...rows, KINDS_TABLE_END].join('\n')
}
