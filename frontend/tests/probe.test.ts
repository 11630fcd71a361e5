import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { nextTick } from 'vue'
import { useViewer } from '../src/stores/viewer'
import { PROBE_DEBOUNCE_MS, useProbe } from '../src/stores/probe'
import { actionSymbol, exportUrl, policyCells, probeStep, rampColour, valueRange } from '../src/lib/policy'
import type { ClientMessage, Probe } from '../src/lib/protocol'
import { clone, fixtures } from './fixtures'

const probeExample = () => ({ ...clone(fixtures.server.probe), v: 2 }) as unknown as Probe

describe('policy map', () => {
  it('takes the greedy action among the allowed ones and max Q as the value', () => {
    const p = probeExample()
    const cells = policyCells(p, 'value', 0)
    expect(cells).toHaveLength(9)
    for (const [i, c] of cells.entries()) {
      const allowed = p.q_values[i].map((q, a) => (p.masks[i][a] ? q! : -Infinity))
      const best = Math.max(...allowed)
      expect(c.value).toBe(best)
      expect(c.greedy).toBe(allowed.indexOf(best))
      expect(p.masks[i][c.greedy!]).toBe(true)
      expect([c.x, c.y]).toEqual([i % 3, Math.floor(i / 3)])
    }
  })

  it('a masked action has no value in the one-action and advantage views', () => {
    const p = probeExample()
    // UP (0) is masked on the top row.
    const q = policyCells(p, 'action', 0)
    expect(q[0].value).toBeNull()
    expect(q[3].value).toBe(p.q_values[3][0])
    const adv = policyCells(p, 'advantage', 3)
    for (const c of adv) expect(c.value!).toBeLessThanOrEqual(0)
  })

  it('colours, ranges, symbols, steps and the GIF address', () => {
    expect(valueRange([])).toEqual([0, 1])
    expect(valueRange([{ x: 0, y: 0, greedy: 0, value: 2 }])).toEqual([1.5, 2.5])
    expect(rampColour(0, 0, 1)).toBe('rgb(68, 1, 84)')
    expect(rampColour(1, 0, 1)).toBe('rgb(253, 231, 37)')
    expect(actionSymbol('LEFT')).toBe('←')
    expect(actionSymbol('WAIT')).toBe('W')
    expect(probeStep(0, 10)).toBe(1)
    expect(probeStep(10, 10)).toBe(10)
    expect(probeStep(0, 0)).toBeNull()
    expect(exportUrl('with curiosity', 12, 'gif', 10)).toBe('/api/runs/with%20curiosity/episodes/12.gif?fps=10')
    expect(exportUrl('main', 3, 'mp4', 25)).toBe('/api/runs/main/episodes/3.mp4?fps=25')
  })
})

describe('probe store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  function setup() {
    const viewer = useViewer()
    const sent: ClientMessage[] = []
    viewer.attach((m) => {
      sent.push(m)
      return true
    })
    viewer.handle(clone(fixtures.stream.hello_live))
    viewer.handle(clone(fixtures.stream.episodes[0]))
    return { viewer, probe: useProbe(), sent }
  }
  const probes = (sent: ClientMessage[]) => sent.filter((m) => m.type === 'probe')

  it('asks only while open, debounced, for the decision about to be made', async () => {
    const { viewer, probe, sent } = setup()
    await nextTick()
    vi.advanceTimersByTime(PROBE_DEBOUNCE_MS * 2)
    expect(probes(sent)).toHaveLength(0)
    probe.open = true
    await nextTick()
    vi.advanceTimersByTime(PROBE_DEBOUNCE_MS * 2)
    const ep = viewer.episode!
    expect(probes(sent)).toEqual([
      { type: 'probe', run_id: 'main', episode_id: ep.episode_id, step: viewer.playback.cursor + 1, meters: null, time_of_day: null },
    ])
  })

  it('what-if sliders start from the real state, change one meter, and reset', async () => {
    const { viewer, probe, sent } = setup()
    probe.open = true
    await nextTick()
    vi.advanceTimersByTime(PROBE_DEBOUNCE_MS * 2)
    const real = viewer.episode!.start.meters
    probe.setMeter(0, 0.1)
    probe.setMeter(0, 0.15)
    await nextTick()
    vi.advanceTimersByTime(PROBE_DEBOUNCE_MS * 2)
    const asked = probes(sent)
    expect(asked).toHaveLength(2)
    const last = asked[1] as Extract<ClientMessage, { type: 'probe' }>
    expect(last.meters![0]).toBeCloseTo(0.15)
    expect(last.meters!.slice(1)).toEqual(real.slice(1))
    probe.reset()
    expect(probe.meters).toBeNull()
  })

  it('shows the answer for the step on screen', async () => {
    const { viewer, probe } = setup()
    probe.open = true
    const answer = probeExample()
    answer.run_id = 'main'
    answer.episode_id = viewer.episode!.episode_id
    answer.step = probe.step!
    viewer.handle(answer)
    expect(probe.result).not.toBeNull()
    expect(probe.cells).toHaveLength(9)
    answer.step += 1
    viewer.handle({ ...answer })
    expect(probe.result).toBeNull()
    expect(probe.shown).not.toBeNull()
  })
})
