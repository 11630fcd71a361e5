// What the policy map draws from a `probe` answer (docs/usage.md#asking-the-agent): per cell
// the greedy action among the allowed ones and a value to colour — max Q, the Q-value of one
// chosen action, or the advantage Q(a) − max Q of the action the agent chose.

import type { Probe } from './protocol'

export type MapMode = 'value' | 'action' | 'advantage'

export interface PolicyCell {
  x: number
  y: number
  /** Greedy action among the allowed ones; null when every action is masked. */
  greedy: number | null
  /** The coloured value; null where it does not apply (masked action, nothing allowed). */
  value: number | null
}

/** Per cell of the answer (row-major), the greedy action and the value for `mode`
 * (`action`: the action index shown in `action` / `advantage` modes). */
export function policyCells(p: Probe, mode: MapMode, action: number): PolicyCell[] {
  const w = p.grid.width
  return p.q_values.map((q, i) => {
    const mask = p.masks[i] ?? []
    let greedy: number | null = null
    let best = -Infinity
    q.forEach((v, a) => {
      if (mask[a] && v !== null && v > best) {
        best = v
        greedy = a
      }
    })
    const max = greedy === null ? null : best
    const qa = mask[action] ? (q[action] ?? null) : null
    let value: number | null
    if (mode === 'value') value = max
    else if (mode === 'action') value = qa
    else value = qa === null || max === null ? null : qa - max
    return { x: i % w, y: Math.floor(i / w), greedy, value }
  })
}

/** Lowest and highest value shown (for the legend); [0, 1] when there is none. */
export function valueRange(cells: PolicyCell[]): [number, number] {
  let lo = Infinity
  let hi = -Infinity
  for (const c of cells) {
    if (c.value === null) continue
    lo = Math.min(lo, c.value)
    hi = Math.max(hi, c.value)
  }
  if (!Number.isFinite(lo)) return [0, 1]
  if (hi - lo < 1e-9) return [lo - 0.5, hi + 0.5]
  return [lo, hi]
}

// A colour-blind-safe ramp (viridis-like), low to high.
const RAMP: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
]

/** The ramp colour of `v` within [lo, hi]. */
export function rampColour(v: number, lo: number, hi: number): string {
  const t = Math.min(1, Math.max(0, (v - lo) / (hi - lo || 1))) * (RAMP.length - 1)
  const i = Math.min(RAMP.length - 2, Math.floor(t))
  const f = t - i
  const c = RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * f))
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`
}

/** Arrow or symbol of an action by its name (moves as arrows, the rest as a letter). */
export function actionSymbol(name: string | undefined): string {
  switch (name) {
    case 'UP':
      return '↑'
    case 'DOWN':
      return '↓'
    case 'LEFT':
      return '←'
    case 'RIGHT':
      return '→'
    case 'INTERACT':
      return '●'
    default:
      return (name ?? '?').slice(0, 1)
  }
}

/** The step whose decision the viewer's state shows: the one about to be made at cursor
 * `cursor` (the state after `cursor` steps), the last one at the end. */
export function probeStep(cursor: number, steps: number): number | null {
  if (steps < 1) return null
  return Math.min(cursor + 1, steps)
}

/** The files an episode downloads as: an animated GIF or an MP4 video (H.264). */
export type ExportFormat = 'gif' | 'mp4'

/** Where to download an episode as a GIF or an MP4 video, at `fps` steps per second. */
export function exportUrl(run: string, episode: number, format: ExportFormat, fps: number): string {
  return `/api/runs/${encodeURIComponent(run)}/episodes/${episode}.${format}?fps=${fps}`
}
