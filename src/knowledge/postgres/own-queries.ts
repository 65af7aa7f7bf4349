import {CHOKEPOINT_SQL_MARKER} from '../../drivers/postgres.js'

/**
 * chokepoint's own statements never count as the workload. pg_stat_statements records them like any other (it
 * has no application_name), so two tests, each enough alone:
 *
 * - the marker: every query chokepoint sends begins with CHOKEPOINT_SQL_MARKER (src/drivers/postgres.ts), and
 *   pg_stat_statements keeps that comment at the start of the text. `notOwnStatement('s.query')` is the
 *   server-side condition that leaves them out before the LIMIT, so they take no place in the top-N either;
 * - the relations: a statement that reads no user table (catalogs and statistics views only; a CTE's name is not a
 *   table, see `relationsOfTree` in the plans probe) is nothing to index for. This catches chokepoint's statements
 *   recorded before the marker existed (pg_stat_statements keeps the first text it saw for a queryid).
 */
export function notOwnStatement(column: string): string {
  // The marker is fixed ASCII without quotes: a plain literal, compared on the text's first characters.
  return `left(${column}, ${CHOKEPOINT_SQL_MARKER.length}) IS DISTINCT FROM '${CHOKEPOINT_SQL_MARKER}'`
}
