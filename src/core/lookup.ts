/**
 * The value at a dotted path ("evidence.sizeBytes") inside nested objects; undefined as soon as a step is missing
 * or is not an object, so rule conditions and templates can name fields a metric may not have.
 */
export function lookupPath(obj: unknown, path: string): unknown {
  let current: unknown = obj
  for (const part of path.split('.')) {
    if (current === null || current === undefined || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}
