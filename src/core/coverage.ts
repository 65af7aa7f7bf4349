/**
 * What an audit could not read, so that it never passes on nothing (design.md section 3): targets from which no
 * reading could be taken, and the gaps of readings that ran but had to leave part of their input out.
 */
import type {NotReadEntry, Reading, TargetInfo} from './types.js'

/** Whether a gap left out all of its input (counted, and every one missing). */
export function totalGap(gap: {missing?: number; of?: number}): boolean {
  return typeof gap.missing === 'number' && typeof gap.of === 'number' && gap.of > 0 && gap.missing >= gap.of
}

/** Whether a reading took anything: ok, and no gap of it left out all of its input. */
export function readAnything(reading: Reading): boolean {
  return reading.status === 'ok' && !(reading.notRead ?? []).some(totalGap)
}

/**
 * Targets that were reached but from which no reading could be taken: each of their probes was skipped or read no
 * input (a RabbitMQ without its management API and no queue names). Such a target was not read, as if it could not
 * be reached: the audit is incomplete. Not judged here: a target with a failed reading (already incomplete, each
 * failure listed; the target was reached, and its status says so), and a target with no readings at all (every
 * probe left out with skipProbes: nothing was asked of it).
 */
export function unreadTargets(targets: readonly TargetInfo[], readings: readonly Reading[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const target of targets) {
    if (target.status !== 'ok') continue
    const own = readings.filter((r) => r.target === target.name)
    if (own.length === 0 || own.some(readAnything) || own.some((r) => r.status === 'error')) continue
    // Each probe's own reason is in skipped[] (or its gap in notRead[]): named here, not repeated.
    out.set(target.name, `nothing could be read: ${own.map((r) => `${r.probe} ${r.status === 'skipped' ? 'skipped' : 'read no input'}`).join(', ')}`)
  }
  return out
}

/** The report's targets: those from which nothing could be read are `skipped`, with why, as unreachable ones are `error`. */
export function markUnreadTargets(targets: readonly TargetInfo[], readings: readonly Reading[]): TargetInfo[] {
  const unread = unreadTargets(targets, readings)
  return targets.map((t) => (unread.has(t.name) ? {...t, status: 'skipped' as const, error: unread.get(t.name)} : t))
}

/** Every gap of every reading that ran, as the report lists it. */
export function readingGaps(readings: readonly Reading[]): NotReadEntry[] {
  return readings.filter((r) => r.status === 'ok').flatMap((r) => (r.notRead ?? []).map((gap) => ({target: r.target, probe: r.probe, ...gap})))
}
