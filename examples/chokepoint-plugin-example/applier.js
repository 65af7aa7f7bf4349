// The example's applier: carries out its own rule's remedy (database/example-unlogged-table), ALTER TABLE ... SET
// LOGGED, through the applier contract of chokepoint (src/core/applier.ts, docs/apply.md). Chosen because it is
// real (the rule's remedy), reversible (SET UNLOGGED undoes it exactly) and kept harmless by its preflight: it
// refuses a table larger than MAX_BYTES (SET LOGGED rewrites the table and writes it all to the WAL) and takes its
// ACCESS EXCLUSIVE lock under a short lock_timeout, so it never queues in front of the application's queries.
import pg from 'pg'

const MAX_BYTES = 100 * 1024 * 1024
const LOCK_TIMEOUT_MS = 2000

async function describeTable(client, table) {
  const {rows} = await client.query(`
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, c.relpersistence AS persistence,
           pg_total_relation_size(c.oid)::bigint AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`, [table])
  return rows[0] ? {name: rows[0].name, persistence: rows[0].persistence, bytes: Number(rows[0].bytes)} : undefined
}

export const setLoggedApplier = {
  id: 'example-set-logged',
  remedyKinds: ['config'],
  targetKinds: ['postgres'],

  async connect(ctx) {
    const client = new pg.Client({connectionString: ctx.target.url, application_name: 'chokepoint-apply example-set-logged'})
    client.on('error', () => {})
    await client.connect()
    const {rows: [{standby}]} = await client.query('SELECT pg_is_in_recovery() AS standby')
    if (standby) {
      await client.end()
      throw Object.assign(new Error('the target is a standby: connect to the primary'), {name: 'ApplyRefusal'})
    }
    return client
  },

  async close(client) {
    await client.end()
  },

  async plan(remedy, client, ctx) {
    const table = ctx.finding?.evidence?.table
    const found = typeof table === 'string' ? await describeTable(client, table) : undefined
    const name = found?.name ?? String(table)
    return {
      remedyId: remedy.id, remedyKind: remedy.kind, applier: this.id, target: ctx.target.name,
      summary: `make ${name} logged`,
      statements: [`ALTER TABLE ${name} SET LOGGED`],
      rollback: [`ALTER TABLE ${name} SET UNLOGGED`],
      details: {table: name, found: Boolean(found), bytes: found?.bytes ?? null},
      notes: found ? [`rewrites ${name} (${found.bytes} bytes) and writes it to the WAL, under a ${LOCK_TIMEOUT_MS} ms lock_timeout`] : [],
    }
  },

  async preflight(plan, client) {
    const now = await describeTable(client, plan.details.table)
    if (!now) return {ok: false, reason: `${plan.details.table} no longer exists`}
    if (now.persistence !== 'u') return {ok: false, reason: `${plan.details.table} is not UNLOGGED any more`}
    if (now.bytes > MAX_BYTES) return {ok: false, reason: `${plan.details.table} is ${now.bytes} bytes: the example rewrites tables of at most ${MAX_BYTES}`, fix: plan.statements[0]}
    return {ok: true, notes: []}
  },

  async apply(plan, client, ctx, record) {
    await record({undo: {table: plan.details.table, persistence: 'u'}})
    await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`)
    try {
      await client.query(plan.statements[0])
    } finally {
      await client.query('RESET lock_timeout')
    }
    return {statements: plan.statements, before: {persistence: 'u'}, undo: {table: plan.details.table, persistence: 'u'}, notes: []}
  },

  async verify(plan, applied, client) {
    const now = await describeTable(client, plan.details.table)
    const ok = now?.persistence === 'p'
    return {ok, detail: ok ? `${plan.details.table} is logged` : `${plan.details.table} is ${now ? 'still unlogged' : 'gone'}`}
  },

  async rollback(change, client) {
    const table = change.undo?.table ?? change.details.table
    const now = await describeTable(client, table)
    if (!now) return {ok: false, detail: `${table} no longer exists`, statements: []}
    if (now.persistence === 'u') return {ok: true, detail: `${table} is unlogged already`, statements: []}
    const statement = `ALTER TABLE ${now.name} SET UNLOGGED`
    await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`)
    await client.query(statement)
    await client.query('RESET lock_timeout')
    return {ok: true, detail: `${table} is unlogged again`, statements: [statement]}
  },

  // ALTER TABLE is transactional: an interrupted SET LOGGED left the table as it was, so there is nothing to clean.
  async recover(change, client, ctx) {
    return {ok: true, detail: 'ALTER TABLE is transactional: an interrupted run changed nothing', statements: []}
  },
}
