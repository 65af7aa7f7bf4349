import {describe, expect, it} from 'vitest'
import {tracingRequested} from '../../../src/telemetry/requested.js'

describe('tracingRequested', () => {
  it('is off with no OTEL_* exporter configured', () => {
    expect(tracingRequested({})).toBe(false)
    expect(tracingRequested({OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'})).toBe(false)
    expect(tracingRequested({OTEL_EXPORTER_OTLP_ENDPOINT: '  '})).toBe(false)
  })

  it('is on with an OTLP endpoint or a traces exporter', () => {
    expect(tracingRequested({OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318'})).toBe(true)
    expect(tracingRequested({OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces'})).toBe(true)
    expect(tracingRequested({OTEL_TRACES_EXPORTER: 'console'})).toBe(true)
  })

  it('is off whenever OTEL_SDK_DISABLED is true or the traces exporter is none', () => {
    expect(tracingRequested({OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318'})).toBe(false)
    expect(tracingRequested({OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318'})).toBe(false)
    expect(tracingRequested({OTEL_TRACES_EXPORTER: 'otlp, none'})).toBe(false)
    expect(tracingRequested({OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318'})).toBe(true)
  })
})
