import {context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer} from '@opentelemetry/api'
import type {CommandEvent, Instrumentation, TargetEvent} from '../core/instrumentation.js'
import type {Secrets} from '../core/secrets.js'
import type {ReadingStatus} from '../core/types.js'
import {commandSpan, describeTarget, type SqlNormaliser, type TargetDescription} from './attributes.js'

/** Epoch milliseconds with sub-millisecond precision, the clock spans are stamped with. */
const now = () => performance.timeOrigin + performance.now()

interface TargetSpan {
  span: Span
  /** When its last child ended: the target span ends there, not when the whole audit does. */
  lastEnd: number
  failed?: string
}

/**
 * Spans of what the core reports (src/core/instrumentation.ts): one INTERNAL span per audit (a watch round, a
 * capture), a child per target, under it one per connect, baseline, probe and advisor, and a CLIENT span per
 * command or query with the semantic conventions of src/telemetry/attributes.ts. Parents are found by name (the
 * event's target and probe), not through async context: a target's probes run one at a time, targets in parallel.
 * Events outside an audit are dropped (nothing would ever end their spans), and audits are taken one at a time (a
 * new auditStart ends the one before), as the CLI runs them: one instrumentation per command. Every text is
 * scrubbed with the run's secrets before it is set.
 */
export class OtelInstrumentation implements Instrumentation {
  private audit?: {span: Span; context: Context}
  private rounds = 0
  private readonly targets = new Map<string, TargetSpan>()
  /** What each target is, learnt at its connect; kept across audits (watch connects once, then samples each round). */
  private readonly described = new Map<string, TargetDescription>()
  /** The open connect, baseline, probe and advisor spans, by target and the name the command log gives them. */
  private readonly open = new Map<string, Span>()

  constructor(private readonly tracer: Tracer, private readonly options: {command: string; secrets: Secrets; normalise: SqlNormaliser}) {}

  private scrub(text: string): string {
    return this.options.secrets.scrub(text)
  }

  auditStart(event: {targets: string[]}): void {
    this.endAudit()
    this.rounds += 1
    const attributes: Attributes = {'chokepoint.command': this.options.command, 'chokepoint.targets': event.targets.length}
    if (this.options.command === 'watch') attributes['chokepoint.watch.round'] = this.rounds
    const span = this.tracer.startSpan(`chokepoint ${this.options.command}`, {kind: SpanKind.INTERNAL, attributes, startTime: now()}, context.active())
    this.audit = {span, context: trace.setSpan(context.active(), span)}
  }

  auditEnd(event: {durationMs: number; error?: string}): void {
    if (event.error) this.audit?.span.setStatus({code: SpanStatusCode.ERROR, message: this.scrub(event.error)})
    this.endAudit()
  }

  /** Ends what is still open (a probe cut short by an error), then every target span at its last child, then the audit. */
  private endAudit(): void {
    if (!this.audit) return
    const at = now()
    for (const span of this.open.values()) span.end(at)
    this.open.clear()
    for (const t of this.targets.values()) {
      if (t.failed) t.span.setStatus({code: SpanStatusCode.ERROR, message: t.failed})
      t.span.end(t.lastEnd)
    }
    this.targets.clear()
    this.audit.span.end(at)
    this.audit = undefined
  }

  /** The target's span in the current audit, started with its first event. */
  private target(name: string, startTime: number): TargetSpan | undefined {
    if (!this.audit) return undefined
    let entry = this.targets.get(name)
    if (!entry) {
      const described = this.described.get(name)
      const attributes: Attributes = {'chokepoint.target.name': name, ...(described ? {'chokepoint.target.kind': described.kind, ...described.attributes} : {})}
      const span = this.tracer.startSpan(`target ${name}`, {kind: SpanKind.INTERNAL, attributes, startTime}, this.audit.context)
      entry = {span, lastEnd: startTime}
      this.targets.set(name, entry)
    }
    return entry
  }

  private startChild(target: string, key: string, name: string, attributes: Attributes): void {
    const at = now()
    const parent = this.target(target, at)
    if (!parent) return
    this.open.get(`${target}\u0000${key}`)?.end(at)
    const span = this.tracer.startSpan(name, {kind: SpanKind.INTERNAL, attributes, startTime: at}, trace.setSpan(this.audit!.context, parent.span))
    this.open.set(`${target}\u0000${key}`, span)
  }

  private endChild(target: string, key: string, outcome: {error?: string; status?: ReadingStatus; attributes?: Attributes}): void {
    const span = this.open.get(`${target}\u0000${key}`)
    if (!span) return
    this.open.delete(`${target}\u0000${key}`)
    const at = now()
    if (outcome.attributes) span.setAttributes(outcome.attributes)
    // A probe that does not apply (skipped) is no failure: only errors mark the span.
    if (outcome.error && outcome.status !== 'skipped') span.setStatus({code: SpanStatusCode.ERROR, message: this.scrub(outcome.error)})
    span.end(at)
    const parent = this.targets.get(target)
    if (parent) parent.lastEnd = Math.max(parent.lastEnd, at)
  }

  connectStart(event: TargetEvent): void {
    this.described.set(event.target, describeTarget(event.kind, event.url))
    this.startChild(event.target, 'connect', 'connect', {'chokepoint.target.kind': event.kind})
    const parent = this.targets.get(event.target)
    const described = this.described.get(event.target)!
    parent?.span.setAttributes({'chokepoint.target.kind': event.kind, ...described.attributes})
  }

  connectEnd(event: TargetEvent & {durationMs: number; facts?: Record<string, unknown>; error?: string}): void {
    // The server's own answer (PostgreSQL's current_database()) is a better db.namespace than the URL's path.
    if (event.facts) {
      const described = describeTarget(event.kind, event.url, event.facts)
      this.described.set(event.target, described)
      this.targets.get(event.target)?.span.setAttributes(described.attributes)
    }
    this.endChild(event.target, 'connect', {error: event.error})
    if (event.error) {
      const parent = this.targets.get(event.target)
      if (parent) parent.failed = this.scrub(event.error)
    }
  }

  baselineStart(event: {target: string; probe: string}): void {
    this.startChild(event.target, event.probe, `baseline ${event.probe}`, {'chokepoint.probe.id': event.probe, 'chokepoint.probe.stage': 'baseline'})
  }

  baselineEnd(event: {target: string; probe: string; durationMs: number; error?: string}): void {
    this.endChild(event.target, event.probe, {error: event.error})
  }

  probeStart(event: {target: string; probe: string}): void {
    this.startChild(event.target, event.probe, `probe ${event.probe}`, {'chokepoint.probe.id': event.probe, 'chokepoint.probe.stage': 'collect'})
  }

  probeEnd(event: {target: string; probe: string; durationMs: number; status: ReadingStatus; error?: string}): void {
    this.endChild(event.target, event.probe, {error: event.error, status: event.status, attributes: {'chokepoint.probe.status': event.status}})
  }

  advisorStart(event: {target?: string; advisor: string}): void {
    const attributes = {'chokepoint.advisor.id': event.advisor}
    if (event.target) {
      this.startChild(event.target, `advisor.${event.advisor}`, `advisor ${event.advisor}`, attributes)
      return
    }
    // A stack-wide advisor belongs to no one target: it is the audit's own child.
    if (!this.audit) return
    const at = now()
    this.open.set(`\u0000advisor.${event.advisor}`, this.tracer.startSpan(`advisor ${event.advisor}`, {kind: SpanKind.INTERNAL, attributes, startTime: at}, this.audit.context))
  }

  advisorEnd(event: {target?: string; advisor: string; durationMs: number; findings: number; error?: string}): void {
    this.endChild(event.target ?? '', `advisor.${event.advisor}`, {error: event.error, attributes: {'chokepoint.advisor.findings': event.findings}})
  }

  command(event: CommandEvent): void {
    const end = now()
    const start = end - (event.durationMs ?? 0)
    const target = this.target(event.target, start)
    if (!target) return
    const described = this.described.get(event.target) ?? {kind: 'unknown', attributes: {}}
    const {name, attributes} = commandSpan(described, {text: event.query ?? event.text, error: event.error !== undefined, errorType: event.errorType}, this.options.normalise)
    // Belt and braces: what the mapping kept is chokepoint's own text, but the audit's secrets have the last word.
    for (const [key, value] of Object.entries(attributes)) if (typeof value === 'string') attributes[key] = this.scrub(value)
    attributes['chokepoint.probe.id'] = event.probe
    if (event.roundTrips !== 1) attributes['chokepoint.round_trips'] = event.roundTrips
    const parent = this.open.get(`${event.target}\u0000${event.probe}`) ?? target.span
    const span = this.tracer.startSpan(name, {kind: SpanKind.CLIENT, attributes, startTime: start}, trace.setSpan(this.audit!.context, parent))
    if (event.error !== undefined) span.setStatus({code: SpanStatusCode.ERROR, message: String(attributes['error.type'] ?? '_OTHER')})
    span.end(end)
    target.lastEnd = Math.max(target.lastEnd, end)
  }
}
