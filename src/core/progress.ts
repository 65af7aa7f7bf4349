/**
 * Progress of the slow parts of a run (the sampling window, the index advisor's what-if plans, a large key sample),
 * for a person watching: the core reports it through this interface and never draws anything itself. The CLI's
 * renderer (src/cli/progress.ts) draws a bar on a terminal, a line every few seconds otherwise, nothing with --quiet.
 */
export interface ProgressTask {
  /** How far it got: `done` of the task's total (or a count when the total is unknown). */
  tick(done: number): void
  /** Finished (or given up): the renderer forgets the task. Calling it twice is harmless. */
  end(): void
}

export interface Progress {
  /** A task with a label ("pg: sampling window"), its total (null when unknown) and the unit of its count. */
  start(label: string, total: number | null, unit: string): ProgressTask
}

const IDLE_TASK: ProgressTask = {tick() {}, end() {}}

/** Progress nobody watches: the default everywhere. */
export const NO_PROGRESS: Progress = {start: () => IDLE_TASK}
