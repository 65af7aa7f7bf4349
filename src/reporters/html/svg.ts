/**
 * Inline SVG charts drawn here, in TypeScript, when the report is rendered: no charting library and no script in
 * the page. Every data mark is an element with class "mark" (the test counts them); colours come from CSS classes,
 * so the light and dark schemes and print restyle them.
 */
import {shortText} from '../../core/units.js'
import {esc} from './escape.js'

export interface Segment {
  value: number
  /** CSS class of the mark: its colour. */
  cls: string
  /** The mark's tooltip. */
  title: string
}

export interface BarRow {
  label: string
  segments: Segment[]
  /** Printed after the bar. */
  valueText: string
}

export interface BarChartOptions {
  /** The value a full-width bar stands for (default: the largest row's total). */
  max?: number
  /** A dashed line at this value, labelled (e.g. 100% of a pool). */
  reference?: {value: number; label: string}
  /** Accessible name of the chart. */
  title: string
  labelChars?: number
}

const WIDTH = 760
const LABEL_W = 290
const VALUE_W = 170
const ROW_H = 22
const BAR_H = 14

const num = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : 0)

/** Horizontal bars, one row per item, each bar one or more stacked segments (the marks). */
export function barChart(rows: BarRow[], opts: BarChartOptions): string {
  const total = (r: BarRow) => r.segments.reduce((s, x) => s + Math.max(0, x.value), 0)
  const max = Math.max(opts.max ?? 0, opts.reference?.value ?? 0, ...rows.map(total)) || 1
  const plotW = WIDTH - LABEL_W - VALUE_W
  const top = opts.reference ? 16 : 4
  const height = top + rows.length * ROW_H + 4
  const scale = (v: number) => (Math.max(0, v) / max) * plotW
  const out: string[] = [`<svg class="chart-svg" role="img" viewBox="0 0 ${WIDTH} ${height}" width="100%" preserveAspectRatio="xMinYMin meet"><title>${esc(opts.title)}</title>`]
  rows.forEach((row, i) => {
    const y = top + i * ROW_H
    out.push(`<g class="row"><text class="label" x="${LABEL_W - 8}" y="${y + BAR_H - 2}" text-anchor="end"><title>${esc(row.label)}</title>${esc(shortText(row.label, opts.labelChars ?? 38))}</text>`)
    out.push(`<rect class="track" x="${LABEL_W}" y="${y}" width="${plotW}" height="${BAR_H}"/>`)
    let x = LABEL_W
    for (const seg of row.segments) {
      const w = scale(seg.value)
      out.push(`<rect class="mark ${esc(seg.cls)}" x="${num(x)}" y="${y}" width="${num(w)}" height="${BAR_H}"><title>${esc(seg.title)}</title></rect>`)
      x += w
    }
    out.push(`<text class="value" x="${LABEL_W + plotW + 6}" y="${y + BAR_H - 2}">${esc(row.valueText)}</text></g>`)
  })
  if (opts.reference) {
    const x = num(LABEL_W + scale(opts.reference.value))
    out.push(`<line class="reference" x1="${x}" x2="${x}" y1="${top - 4}" y2="${height - 2}"/><text class="ref-label" x="${x}" y="11" text-anchor="middle">${esc(opts.reference.label)}</text>`)
  }
  out.push('</svg>')
  return out.join('')
}

export interface HeatCell {
  /** CSS class: its colour. */
  cls: string
  text: string
  title: string
}

/** A grid of rows x columns; a cell with data is a mark, an empty one is drawn blank. */
export function heatMap(rowNames: string[], columnNames: string[], cell: (row: string, column: string) => HeatCell | undefined, title: string): string {
  const labelW = 170
  const cellW = Math.max(64, Math.min(96, Math.floor((WIDTH - labelW) / Math.max(1, columnNames.length))))
  const cellH = 30
  const top = 24
  const width = labelW + columnNames.length * cellW + 4
  const height = top + rowNames.length * cellH + 4
  const out: string[] = [`<svg class="chart-svg heat" role="img" viewBox="0 0 ${width} ${height}" width="${Math.min(100, Math.round((width / WIDTH) * 100))}%" preserveAspectRatio="xMinYMin meet"><title>${esc(title)}</title>`]
  columnNames.forEach((c, j) => out.push(`<text class="col-label" x="${labelW + j * cellW + cellW / 2}" y="16" text-anchor="middle">${esc(c)}</text>`))
  rowNames.forEach((r, i) => {
    const y = top + i * cellH
    out.push(`<text class="label" x="${labelW - 8}" y="${y + cellH / 2 + 4}" text-anchor="end"><title>${esc(r)}</title>${esc(shortText(r, 24))}</text>`)
    columnNames.forEach((c, j) => {
      const x = labelW + j * cellW
      const data = cell(r, c)
      if (!data) {
        out.push(`<rect class="empty" x="${x + 1}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}"/>`)
        return
      }
      out.push(`<g><rect class="mark ${esc(data.cls)}" x="${x + 1}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}"><title>${esc(data.title)}</title></rect>`
        + `<text class="cell-text" x="${x + cellW / 2}" y="${y + cellH / 2 + 4}" text-anchor="middle">${esc(data.text)}</text></g>`)
    })
  })
  out.push('</svg>')
  return out.join('')
}
