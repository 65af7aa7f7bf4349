/**
 * The deadline of one HTTP request (Prometheus, the RabbitMQ management API), headers and body. Not
 * AbortSignal.any([AbortSignal.timeout(ms), ...]): Node 20 holds the timeout signal only weakly there, so after a
 * garbage collection the request waited for ever (seen behind a stalled proxy). A plain timer holds itself.
 */
export interface RequestDeadline {
  signal: AbortSignal
  /** Clears the timer and the link to the session's signal; call once the body is read or the request failed. */
  done(): void
}

export function requestDeadline(ms: number, session: AbortSignal): RequestDeadline {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms)
  const onAbort = () => controller.abort(session.reason)
  if (session.aborted) onAbort()
  else session.addEventListener('abort', onAbort, {once: true})
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer)
      session.removeEventListener('abort', onAbort)
    },
  }
}
