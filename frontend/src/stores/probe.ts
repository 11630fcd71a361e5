// "Ask the agent" (docs/usage.md#asking-the-agent): while the panel is open, asks the
// server for the policy map of the step shown (debounced), with the what-if meters and
// clock when set, and turns the answer into what the map and the panels draw.

import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { useViewer } from './viewer'
import { policyCells, probeStep, valueRange, type MapMode } from '../lib/policy'

/** Wait this long after the last change before asking (slider drags, fast playback). */
export const PROBE_DEBOUNCE_MS = 120

export const useProbe = defineStore('probe', () => {
  const viewer = useViewer()
  const open = ref(false)
  const mode = ref<MapMode>('value')
  /** The action shown in `action` mode. */
  const action = ref(0)
  /** Dim the cells outside the observation window (partially observable packs). */
  const showWindow = ref(true)
  /** What-if meters (all of them) and hour; null = the step's real state. */
  const meters = ref<number[] | null>(null)
  const hour = ref<number | null>(null)
  const sent = ref(0)

  const step = computed(() => {
    const ep = viewer.episode
    return ep ? probeStep(viewer.playback.cursor, ep.steps.step.length) : null
  })
  /** The row of the probed step (its stored Q-values, the action the agent chose). */
  const row = computed(() => {
    const ep = viewer.episode
    const s = step.value
    if (!ep || s === null) return null
    return { action: ep.steps.action[s - 1], q: ep.steps.q_values[s - 1] ?? null }
  })
  /** The answer for what is shown now (null while it is on its way). */
  const result = computed(() => {
    const p = viewer.probe
    const ep = viewer.episode
    if (!p || !ep || p.episode_id !== ep.episode_id || p.step !== step.value) return null
    return p
  })
  /** The last answer, also while a newer one is on its way (the map stays drawn). */
  const shown = computed(() => (open.value ? viewer.probe : null))
  const cells = computed(() => {
    const p = shown.value
    if (!p) return []
    const a = mode.value === 'advantage' ? (row.value?.action ?? 0) : action.value
    return policyCells(p, mode.value, a)
  })
  const range = computed(() => valueRange(cells.value))

  let timer: ReturnType<typeof setTimeout> | null = null
  function ask(): void {
    const ep = viewer.episode
    const run = viewer.hello?.run_id
    const s = step.value
    if (!open.value || !ep || run === undefined || s === null) return
    viewer.send({
      type: 'probe',
      run_id: run,
      episode_id: ep.episode_id,
      step: s,
      meters: meters.value,
      time_of_day: hour.value,
    })
    sent.value++
  }
  function schedule(): void {
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      ask()
    }, PROBE_DEBOUNCE_MS)
  }
  watch(
    () => [open.value, viewer.episode?.episode_id, step.value, JSON.stringify(meters.value), hour.value],
    () => schedule(),
  )

  /** Start a what-if from the step's real state (the sliders' first move). */
  function realMeters(): number[] {
    const ep = viewer.episode
    const s = step.value
    if (!ep || s === null) return []
    const m = s <= 1 ? ep.start.meters : ep.steps.meters[s - 2]
    return m.map((v) => v ?? 0)
  }
  function setMeter(i: number, v: number): void {
    const m = meters.value ? [...meters.value] : realMeters()
    m[i] = Math.min(1, Math.max(0, v))
    meters.value = m
  }
  function setHour(h: number | null): void {
    hour.value = h
  }
  function reset(): void {
    meters.value = null
    hour.value = null
  }

  return { open, mode, action, showWindow, meters, hour, step, row, result, shown, cells, range, sent, ask, setMeter, setHour, reset, realMeters }
})
