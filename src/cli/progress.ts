import type {Progress, ProgressTask} from '../core/progress.js'
import {NO_PROGRESS} from '../core/progress.js'

/** Where progress is drawn: stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressRendererOptions {
  stream?: ProgressStream
  /** Nothing at all (--quiet). */
  quiet?: boolean
  /** Without a terminal, a task's line at most this often (default 5 s, or CHOKEPOINT_PROGRESS_INTERVAL_MS). */
  intervalMs?: number
  /** Text that may hold a secret (a target's name never should, but the scrubber has the last word). */
  scrub?: (text: string) => string
  now?: () => number
}

interface Task {
  label: string
  total: number | null
  unit: string
  done: number
  startedAt: number
  printedAt: number
  printed: boolean
}

const BAR = 20
const REDRAW_MS = 100

function amount(task: Task): string {
  return task.total === null ? `${task.done} ${task.unit}` : `${task.done}/${task.total} ${task.unit}`
}

function bar(task: Task): string {
  if (!task.total) return ''
  const share = Math.max(0, Math.min(1, task.done / task.total))
  const full = Math.round(share * BAR)
  return `[${'#'.repeat(full)}${'-'.repeat(BAR - full)}] ${Math.round(share * 100)}% `
}

/**
 * Draws progress on stderr: on a terminal one status line (a bar per task with a total, a count otherwise) redrawn
 * in place and cleared when the last task ends; without one, a plain line per task every few seconds (CI logs), and
 * one when a task that was reported ends; nothing with quiet. `log` writes a message line without tearing the bar.
 * Reusable by any command with slow steps (chokepoint apply's index builds too).
 */
export class ProgressRenderer implements Progress {
  private readonly tasks = new Map<number, Task>()
  private nextId = 1
  private drawnAt = 0
  private lineShown = false
  private readonly stream: ProgressStream
  private readonly tty: boolean
  private readonly intervalMs: number
  private readonly scrub: (text: string) => string
  private readonly now: () => number

  constructor(private readonly options: ProgressRendererOptions = {}) {
    this.stream = options.stream ?? process.stderr
    this.tty = Boolean(this.stream.isTTY) && process.env.TERM !== 'dumb'
    const fromEnv = Number(process.env.CHOKEPOINT_PROGRESS_INTERVAL_MS)
    this.intervalMs = options.intervalMs ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 5000)
    this.scrub = options.scrub ?? ((t) => t)
    this.now = options.now ?? Date.now
  }

  start(label: string, total: number | null, unit: string): ProgressTask {
    if (this.options.quiet) return NO_PROGRESS.start(label, total, unit)
    const id = this.nextId++
    const at = this.now()
    this.tasks.set(id, {label: this.scrub(label), total, unit, done: 0, startedAt: at, printedAt: at, printed: false})
    if (this.tty) this.draw(true)
    let ended = false
    return {
      tick: (done) => {
        const task = this.tasks.get(id)
        if (!task || ended) return
        task.done = done
        if (this.tty) this.draw(false)
        else if (this.now() - task.printedAt >= this.intervalMs) this.printLine(task, '')
      },
      end: () => {
        if (ended) return
        ended = true
        const task = this.tasks.get(id)
        this.tasks.delete(id)
        if (this.tty) this.draw(true)
        else if (task?.printed) this.printLine(task, ', done')
      },
    }
  }

  /** A message line (the run's log) above the status line, which is then drawn again. */
  log(message: string): void {
    if (this.options.quiet) return
    if (this.tty && this.lineShown) this.stream.write('\r\u001b[2K')
    this.stream.write(`${this.scrub(message)}\n`)
    this.lineShown = false
    if (this.tty && this.tasks.size > 0) this.draw(true)
  }

  private printLine(task: Task, suffix: string): void {
    task.printed = true
    task.printedAt = this.now()
    const seconds = Math.round((task.printedAt - task.startedAt) / 1000)
    this.stream.write(`progress: ${task.label}: ${amount(task)}${task.total ? ` (${Math.round((task.done / task.total) * 100)}%)` : ''}${suffix}, ${seconds}s\n`)
  }

  private draw(force: boolean): void {
    const at = this.now()
    if (!force && at - this.drawnAt < REDRAW_MS) return
    this.drawnAt = at
    if (this.tasks.size === 0) {
      if (this.lineShown) this.stream.write('\r\u001b[2K')
      this.lineShown = false
      return
    }
    const text = [...this.tasks.values()].map((t) => `${t.label} ${bar(t)}${amount(t)}`).join(' | ')
    // A terminal that reports 0 columns (a pty nobody sized: docker -t, script) is taken as 80, not as 20.
    const width = Math.max(20, (this.stream.columns || 80) - 1)
    const chars = [...text]
    const line = chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : text
    this.stream.write(`\r\u001b[2K${line}`)
    this.lineShown = true
  }
}
