// What the page shows, in its URL's query string, so that a link opens the same view:
//   /?run=with-curiosity&ep=1234&step=87&filter=failures&speed=4
//   /?compare=with-curiosity,epsilon-only&ep=1234&sync=1
// A change of run, of the runs compared or of the chosen episode is a new history entry
// (back/forward move between views); step, speed and filter replace the current one.

import type { Filter, Speed } from './protocol'

export interface ViewState {
  /** No run: the server's first; one: that run; two: those runs side by side. */
  runs: string[]
  /** The episode chosen (null: follow the newest). */
  ep: number | null
  /** The step shown, paused (with `ep`). */
  step: number | null
  filter: Filter
  speed: Speed
  /** Compare: both runs play the same episode number. */
  sync: boolean
}

export const DEFAULT_VIEW: ViewState = { runs: [], ep: null, step: null, filter: { kind: 'all' }, speed: 1, sync: false }

const RUN_ID = /^[A-Za-z0-9._~-]{1,64}$/
const SPEEDS = [0.25, 0.5, 1, 2, 4, 5, 10, 25, 50]
const FILTERS: Filter['kind'][] = ['all', 'failures', 'stage_changes', 'every_nth', 'best', 'worst']

function count(text: string | null): number | null {
  if (text === null || !/^\d{1,15}$/.test(text)) return null
  return Number(text)
}

/** Reads a query string (`location.search`); what cannot be read is left at its default. */
export function parseView(search: string): ViewState {
  const q = new URLSearchParams(search)
  const view: ViewState = { ...DEFAULT_VIEW, filter: { kind: 'all' } }
  const compare = (q.get('compare') ?? '').split(',').filter((r) => RUN_ID.test(r))
  const run = q.get('run')
  if (compare.length >= 2 && compare[0] !== compare[1]) view.runs = compare.slice(0, 2)
  else if (run !== null && RUN_ID.test(run)) view.runs = [run]
  view.ep = count(q.get('ep'))
  view.step = view.ep === null ? null : count(q.get('step'))
  const kind = q.get('filter') as Filter['kind'] | null
  if (kind !== null && FILTERS.includes(kind)) {
    view.filter = kind === 'every_nth' ? { kind, n: Math.max(1, count(q.get('n')) ?? 10) } : { kind }
  }
  const speed = q.get('speed')
  if (speed === 'instant') view.speed = 'instant'
  else if (speed !== null && SPEEDS.includes(Number(speed))) view.speed = Number(speed) as Speed
  view.sync = view.runs.length === 2 && q.get('sync') === '1'
  return view
}

/** The query string of a view (`?…`, or '' for the default view). */
export function formatView(view: ViewState): string {
  const q: string[] = []
  if (view.runs.length >= 2) q.push(`compare=${view.runs.slice(0, 2).map(encodeURIComponent).join(',')}`)
  else if (view.runs.length === 1) q.push(`run=${encodeURIComponent(view.runs[0])}`)
  if (view.ep !== null) {
    q.push(`ep=${view.ep}`)
    if (view.step !== null) q.push(`step=${view.step}`)
  }
  if (view.filter.kind !== 'all') {
    q.push(`filter=${view.filter.kind}`)
    if (view.filter.kind === 'every_nth') q.push(`n=${view.filter.n ?? 10}`)
  }
  if (view.speed !== 1) q.push(`speed=${view.speed}`)
  if (view.sync && view.runs.length >= 2) q.push('sync=1')
  return q.length === 0 ? '' : `?${q.join('&')}`
}

/** How the browser history takes a new view: a new entry for another run, comparison or
 * chosen episode; the same entry for step, speed and filter; nothing when equal. A view
 * without a run shows the server's first run, `defaultRun`: naming it is no new view. */
export function historyMode(from: ViewState, to: ViewState, defaultRun: string | null = null): 'push' | 'replace' | null {
  if (formatView(from) === formatView(to)) return null
  const runs = (v: ViewState) => (v.runs.length === 0 && defaultRun !== null ? [defaultRun] : v.runs)
  const views = (v: ViewState) => `${runs(v).join(',')}|${v.sync}`
  if (views(from) !== views(to)) return 'push'
  if (to.ep !== null && to.ep !== from.ep && to.step === null) return 'push'
  return 'replace'
}
