// The apply tests' applier, registered through a plugin like any other (linked with `chokepoint plugins link`).
// A row (name, mode) of the test database's apply_test_marker table becomes a finding whose remedy creates table
// public.applied_<name>; `mode` steers the applier: ok, fail-verify, block (waits in apply until aborted), refuse
// (preflight says no), fail-apply (the statement fails after the table was created).
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
const quote = (name) => `"${name.replace(/"/g, '""')}"`

const markerProbe = {
  id: 'postgres.apply-test',
  kind: 'postgres',
  description: 'rows of apply_test_marker',
  async collect(session) {
    const [{present}] = await session.query(`SELECT to_regclass('public.apply_test_marker') IS NOT NULL AS present`)
    if (!present) return {data: {markers: []}, metrics: []}
    const rows = await session.query('SELECT name, mode FROM public.apply_test_marker ORDER BY name LIMIT 100')
    return {
      data: {markers: rows},
      metrics: rows.map((r) => ({name: 'applytest.marker', subject: `marker ${r.name}`, value: 1, evidence: {name: r.name, mode: r.mode, table: `public.applied_${r.name}`}})),
    }
  },
}

async function exists(client, table) {
  const {rows} = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [`public.${quote(table)}`])
  return rows[0].present
}

const applier = {
  id: 'apply-test',
  remedyKinds: ['config'],
  targetKinds: ['postgres'],
  async connect(ctx) {
    const client = new pg.Client({connectionString: ctx.target.url, application_name: 'chokepoint-apply-test'})
    client.on('error', () => {})
    await client.connect()
    return client
  },
  async close(client) {
    await client.end()
  },
  async plan(remedy, client, ctx) {
    const name = ctx.finding.evidence.name
    const table = `applied_${name}`
    return {remedyId: remedy.id, remedyKind: remedy.kind, applier: 'apply-test', target: ctx.target.name, summary: `create table public.${table}`,
      statements: [`CREATE TABLE public.${quote(table)} (id int)`], rollback: [`DROP TABLE IF EXISTS public.${quote(table)}`],
      details: {table, mode: ctx.finding.evidence.mode}, notes: []}
  },
  async preflight(plan, client) {
    if (plan.details.mode === 'refuse') return {ok: false, reason: 'the test marker says refuse', fix: 'UPDATE apply_test_marker SET mode = \'ok\''}
    if (await exists(client, plan.details.table)) return {ok: false, reason: `public.${plan.details.table} exists already`}
    return {ok: true, notes: []}
  },
  async apply(plan, client, ctx, record) {
    await record({undo: {table: plan.details.table}})
    await client.query(plan.statements[0])
    if (plan.details.mode === 'fail-apply') throw new Error('the test marker says fail-apply')
    if (plan.details.mode === 'block') {
      ctx.progress({phase: 'blocking', done: 1, total: 2, unit: 'steps'})
      await new Promise((resolve) => {
        if (ctx.signal.aborted) return resolve()
        ctx.signal.addEventListener('abort', resolve, {once: true})
        setTimeout(resolve, 60_000).unref()
      })
      if (ctx.signal.aborted) {
        await client.query(plan.rollback[0])
        ctx.log(`interrupted: dropped public.${plan.details.table} again`)
        throw new Error('interrupted: the table was dropped again')
      }
    }
    return {statements: plan.statements, before: {existed: false}, undo: {table: plan.details.table}, notes: []}
  },
  async verify(plan, applied, client) {
    if (plan.details.mode === 'fail-verify') return {ok: false, detail: 'the test marker says fail-verify'}
    const ok = await exists(client, plan.details.table)
    return {ok, detail: ok ? `public.${plan.details.table} exists` : `public.${plan.details.table} is missing`}
  },
  async rollback(change, client) {
    const statement = `DROP TABLE IF EXISTS public.${quote(change.undo?.table ?? change.details.table)}`
    await client.query(statement)
    return {ok: true, detail: `dropped public.${change.details.table}`, statements: [statement]}
  },
  async recover(change, client, ctx) {
    return this.rollback(change, client, ctx)
  },
}

export default {
  name: 'chokepoint-apply-test-plugin',
  rulesDirs: [join(here, 'rules')],
  probes: [{kind: 'postgres', probes: {'postgres.apply-test': ['applytest.marker']}, load: async () => [markerProbe]}],
  appliers: [{id: 'apply-test', remedyKinds: ['config'], targetKinds: ['postgres'], rules: ['database/apply-test-marker'], description: 'test applier', load: async () => applier}],
}
