/**
 * The catalog the plans probe reads carries each table's foreign keys (what the N+1 advisor pairs a child lookup
 * with its parent by): columns in the constraint's key order, not the table's column order, the referenced table in
 * another schema, and none on a table without one.
 */
import {describe, expect, it} from 'vitest'
import {PgSession} from '../../../src/drivers/postgres.js'
import {readCatalog} from '../../../src/knowledge/postgres/catalog.js'
import {adminQuery, withTempDatabase} from '../../helpers/pg.js'

describe('catalog foreign keys', () => {
  it('lists each foreign key with its columns and the referenced ones in key order', async () => {
    await withTempDatabase('cp_catalog_fks', async (url) => {
      await adminQuery(url, `CREATE SCHEMA ref;
        CREATE TABLE ref.regions (a int, b int, name text, UNIQUE (b, a));
        CREATE TABLE public.shops (id int PRIMARY KEY, x int, y int, region_name text,
          CONSTRAINT shops_region FOREIGN KEY (y, x) REFERENCES ref.regions (b, a));
        CREATE TABLE public.lonely (id int PRIMARY KEY)`)
      const session = await PgSession.open(url)
      try {
        const catalog = await readCatalog(session, [{name: 'shops'}, {name: 'regions'}, {name: 'lonely'}])
        expect(catalog.tables['public.shops'].foreignKeys).toEqual([{
          name: 'shops_region', columns: ['y', 'x'], references: 'ref.regions', referencedSchema: 'ref', referencedTable: 'regions', referencedColumns: ['b', 'a'],
        }])
        expect(catalog.tables['ref.regions'].foreignKeys).toEqual([])
        expect(catalog.tables['public.lonely'].foreignKeys).toEqual([])
      } finally {
        await session.close()
      }
    })
  }, 60_000)
})
