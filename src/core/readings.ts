/**
 * Typed access to probe data. A probe's reading is keyed by its probe id; an advisor declares the readings it
 * consumes with keys defined next to the data types (src/readings/*), so the probe id string and the data shape
 * are written once, and a reading from an old or foreign snapshot that lacks the expected shape reads as absent
 * instead of crashing the advisor.
 */
import type {Reading} from './types.js'

export interface ReadingKey<T> {
  probe: string
  /** Checks the parts of the shape the consumers rely on; data from a snapshot is untrusted input. */
  accepts: (data: unknown) => data is T
}

export function readingKey<T>(probe: string, accepts: (data: unknown) => boolean = (d) => d !== null && typeof d === 'object'): ReadingKey<T> {
  return {probe, accepts: accepts as (data: unknown) => data is T}
}

export interface TypedReading<T> {
  reading: Reading
  data: T
}

/** Every successful reading of this key (optionally of one target), with its data typed. */
export function readingsOf<T>(readings: readonly Reading[], key: ReadingKey<T>, target?: string): Array<TypedReading<T>> {
  const out: Array<TypedReading<T>> = []
  for (const reading of readings) {
    if (reading.probe !== key.probe || reading.status !== 'ok' || (target !== undefined && reading.target !== target)) continue
    if (key.accepts(reading.data)) out.push({reading, data: reading.data})
  }
  return out
}

/** The data of the first successful reading of this key (of one target when given). */
export function dataOf<T>(readings: readonly Reading[], key: ReadingKey<T>, target?: string): T | undefined {
  return readingsOf(readings, key, target)[0]?.data
}

/**
 * Every successful reading whose data has a family's shape, whatever probe took it (every queue system's reading,
 * a plugin's queue probe included): for data shared by several probes, matched by shape, not by a list of ids.
 */
export function readingsWhere<T>(readings: readonly Reading[], accepts: (data: unknown) => data is T): Array<TypedReading<T>> {
  const out: Array<TypedReading<T>> = []
  for (const reading of readings) if (reading.status === 'ok' && accepts(reading.data)) out.push({reading, data: reading.data})
  return out
}
