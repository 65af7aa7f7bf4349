/**
 * Pasting a remedy the way a person does, and proving what it changed. SQL goes through psql's standard input with
 * no ON_ERROR_STOP, as an interactive paste: psql splits the text into statements with its own lexer and runs
 * backslash commands, so a name that escapes its quotes shows here exactly as it would in a terminal. What changed
 * is read from the catalogs (pg_roles, pg_db_role_setting, pg_namespace, pg_class, pg_index and the vacuum counts of
 * pg_stat_user_tables) before and after, and diffed.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {adminQuery} from './pg.js'

export interface PsqlRun {
  status: number | null
  stdout: string
  stderr: string
  /** Files the pasted text created in psql's working directory (a `\!` or `$(…)` that escaped would leave some). */
  strayFiles: string[]
}

/** Runs `script` through psql's standard input, in an empty working directory of its own. */
export function psql(url: string, script: string): PsqlRun {
  const cwd = mkdtempSync(join(tmpdir(), 'cp-paste-psql-'))
  try {
    const run = spawnSync('psql', ['-X', '-q', '-A', '-t', '-d', url], {input: script, cwd, encoding: 'utf8', timeout: 60_000})
    return {status: run.status, stdout: run.stdout, stderr: run.stderr, strayFiles: readdirSync(cwd)}
  } finally {
    rmSync(cwd, {recursive: true, force: true})
  }
}

export interface Catalog {
  roles: Record<string, unknown>
  settings: Record<string, unknown>
  databases: Record<string, unknown>
  relations: Record<string, unknown>
}

/**
 * The catalog state a remedy could change. `cluster: 'all'` reads every role, setting and database: only consistent
 * inside one REPEATABLE READ transaction, since other sessions of the server change them too. `cluster: 'ours'`
 * reads only those named cp_paste_* (and the current database's settings), for pastes that cannot run in a
 * transaction. Relations are those of the current database outside the system schemas.
 */
function catalogSql(cluster: 'all' | 'ours'): string {
  const ours = (col: string) => (cluster === 'all' ? 'true' : `${col} LIKE 'cp\\_paste\\_%'`)
  return `SELECT json_build_object(
  'roles', (SELECT coalesce(json_agg(json_build_array(rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit)), '[]')
            FROM pg_roles WHERE ${ours('rolname')}),
  'settings', (SELECT coalesce(json_agg(json_build_array(json_build_array(coalesce(r.rolname, '*'), coalesce(d.datname, '*')), s.setconfig)), '[]')
               FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
               WHERE ${cluster === 'all' ? 'true' : `${ours('r.rolname')} OR d.datname = current_database()`}),
  'databases', (SELECT coalesce(json_agg(json_build_array(datname, datallowconn, datconnlimit)), '[]') FROM pg_database WHERE ${ours('datname')}),
  'relations', (SELECT coalesce(json_agg(json_build_array(json_build_array(n.nspname, c.relname),
                        json_build_object('kind', c.relkind, 'options', c.reloptions, 'valid', i.indisvalid,
                                          'definition', CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END,
                                          'frozenxid', c.relfrozenxid::text, 'vacuums', st.vacuum_count))), '[]')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_index i ON i.indexrelid = c.oid
                LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)')
)::text AS catalog`
}

function toCatalog(text: string): Catalog {
  const raw = JSON.parse(text) as Record<keyof Catalog, Array<[unknown, ...unknown[]]>>
  const keyed = (rows: Array<[unknown, ...unknown[]]>) => Object.fromEntries(rows.map(([key, ...rest]) => [JSON.stringify(key), rest.length === 1 ? rest[0] : rest]))
  return {roles: keyed(raw.roles), settings: keyed(raw.settings), databases: keyed(raw.databases), relations: keyed(raw.relations)}
}

export async function readCatalog(url: string, cluster: 'all' | 'ours' = 'ours'): Promise<Catalog> {
  const [row] = await adminQuery<{catalog: string}>(url, catalogSql(cluster))
  return toCatalog(row.catalog)
}

export interface CatalogDiff {
  /** Per section, the keys (JSON of the name: a role, [role, database], [schema, relation]) added, removed, changed. */
  added: string[]
  removed: string[]
  changed: string[]
}

export function diffCatalog(before: Catalog, after: Catalog): CatalogDiff {
  const out: CatalogDiff = {added: [], removed: [], changed: []}
  for (const section of ['roles', 'settings', 'databases', 'relations'] as const) {
    const b = before[section]
    const a = after[section]
    for (const k of Object.keys(a)) if (!(k in b)) out.added.push(`${section} ${k}`)
    for (const k of Object.keys(b)) if (!(k in a)) out.removed.push(`${section} ${k}`)
    for (const k of Object.keys(b)) if (k in a && JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.changed.push(`${section} ${k}`)
  }
  for (const list of Object.values(out)) list.sort()
  return out
}

/** How a diff entry names a relation or a setting, for expectations. */
export const relationKey = (schema: string, name: string) => `relations ${JSON.stringify([schema, name])}`
export const settingKey = (role: string, database = '*') => `settings ${JSON.stringify([role, database])}`

export interface PasteResult extends PsqlRun {
  before: Catalog
  after: Catalog
  diff: CatalogDiff
}

const MARK = 'CP_PASTE_CATALOG '

/**
 * Pastes `sql` inside BEGIN ISOLATION LEVEL REPEATABLE READ ... ROLLBACK, reading the whole catalog (every role,
 * setting and database of the server) before and after it in the same snapshot: the diff holds only what the paste
 * did, whatever other sessions do meanwhile, and nothing of it is kept.
 */
export function pasteRolledBack(url: string, sql: string): PasteResult {
  const read = `SELECT '${MARK}' || (${catalogSql('all')});`
  const run = psql(url, `BEGIN ISOLATION LEVEL REPEATABLE READ;\n${read}\n${sql}\n;\n${read}\nROLLBACK;\n`)
  const snapshots = run.stdout.split('\n').filter((l) => l.startsWith(MARK)).map((l) => toCatalog(l.slice(MARK.length)))
  if (snapshots.length !== 2) throw new Error(`expected two catalog reads around the paste, got ${snapshots.length}: ${run.stderr}`)
  return {...run, before: snapshots[0], after: snapshots[1], diff: diffCatalog(snapshots[0], snapshots[1])}
}

/** Pastes `sql` for real (VACUUM, CONCURRENTLY: no transaction allowed), diffing the catalog around it. */
export async function pasteForReal(url: string, sql: string): Promise<PasteResult> {
  const before = await readCatalog(url)
  const run = psql(url, `${sql}\n;\n`)
  const after = await readCatalog(url)
  return {...run, before, after, diff: diffCatalog(before, after)}
}

/** psql's ERROR lines: a paste that is right raises none. */
export function errorsOf(run: PsqlRun): string[] {
  return run.stderr.split('\n').filter((l) => /\bERROR\b|syntax error|invalid command/.test(l))
}
