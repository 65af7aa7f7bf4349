// An external chokepoint plugin. chokepoint finds it through oclif's plugin mechanism (`chokepoint plugins link`
// or `plugins install`) and reads the module named by "chokepoint.plugin" in package.json. It needs nothing from
// chokepoint at run time: a plugin definition is plain data and functions (definePlugin only adds types).
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {setLoggedApplier} from './applier.js'

const here = dirname(fileURLToPath(import.meta.url))

/** UNLOGGED tables are truncated after a crash and are not replicated: fine for scratch data, a surprise elsewhere. */
const unloggedTablesProbe = {
  id: 'postgres.example-unlogged',
  kind: 'postgres',
  description: 'UNLOGGED tables of the current database (emptied after a crash, absent on standbys)',
  async collect(session) {
    const rows = await session.query(`
      SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table", pg_total_relation_size(c.oid)::bigint AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 2 DESC LIMIT 100`)
    return {
      data: {tables: rows.map((r) => r.table)},
      metrics: rows.map((r) => ({name: 'example.table.unlogged', subject: r.table, value: 1, evidence: {table: r.table, sizeBytes: Number(r.bytes)}})),
    }
  },
}

/** One line for a chat message or a status bar. */
function onelineReporter({report}) {
  const {critical, warning, info} = report.summary
  const verdict = report.gate.passed ? (report.gate.incomplete ? 'incomplete' : 'passed') : 'failed'
  return `chokepoint ${verdict}: ${critical} critical, ${warning} warning, ${info} info; ${report.checks.length} checks\n`
}

export default {
  name: 'chokepoint-plugin-example',
  rulesDirs: [join(here, 'rules')],
  probes: [{kind: 'postgres', probes: {'postgres.example-unlogged': ['example.table.unlogged']}, load: async () => [unloggedTablesProbe]}],
  reporters: [{format: 'oneline', description: 'one line: verdict and counts', load: async () => onelineReporter}],
  // Serves its own rule's remedy only (`rules`): the built-in config remedies stay advice.
  appliers: [{id: 'example-set-logged', remedyKinds: ['config'], targetKinds: ['postgres'], rules: ['database/example-unlogged-table'],
    description: 'ALTER TABLE ... SET LOGGED for an UNLOGGED table (undone by SET UNLOGGED)', load: async () => setLoggedApplier}],
}
