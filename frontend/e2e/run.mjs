#!/usr/bin/env node
// Browser end-to-end checks of the viewer against any Townlet server (the unified
// server, or the fixture server): TOWNLET_URL=http://127.0.0.1:PORT node e2e/run.mjs
//
// Drives Debian's chromium through playwright-core (never a downloaded browser,
// docs/decisions.md#what-ci-runs) with the flags of docs/decisions.md#browser-tests-as-root.
// Screenshots go to $TOWNLET_SCREENSHOTS (default <repo>/test-output/screenshots). No check
// asserts a duration (docs/decisions.md#tests-never-assert-timings): each waits for its event
// with a generous deadline; the frame-time figures are reported, not asserted.

import { chromium } from 'playwright-core'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const DEADLINE = Number(process.env.TOWNLET_E2E_DEADLINE_MS ?? 60_000)
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean)
  const found = candidates.find((p) => existsSync(p))
  if (!found) throw new Error('chromium not found: install Debian\'s package (apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH')
  return found
}

/**
 * Stops the server under an open page, expects the offline banner (content kept), starts
 * it again and expects the page to reconnect on its own (backoff) and drop the banner.
 * `stop` and `restart` are async functions supplied by whoever owns the server.
 */
export async function checkReconnect({ url, stop, restart }) {
  const profile = mkdtempSync(join(tmpdir(), 'townlet-e2e-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(url, { waitUntil: 'domcontentloaded' })
    await page.getByTestId('agent').waitFor({ timeout: DEADLINE })
    await stop()
    await page.getByTestId('offline-banner').waitFor({ timeout: DEADLINE })
    if ((await page.getByTestId('cell').count()) === 0) throw new Error('the grid was cleared while offline')
    await restart()
    await page.locator('[data-testid=connection]:has-text("connected")').waitFor({ timeout: DEADLINE })
    await page.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: DEADLINE })
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
}

/** Frame intervals (requestAnimationFrame) over `ms` of wall time: p50, p99, max. */
export async function measureFrames(page, ms) {
  const frames = await page.evaluate(
    (ms) =>
      new Promise((done) => {
        const times = []
        let last = performance.now()
        const end = last + ms
        const frame = (t) => {
          times.push(t - last)
          last = t
          if (t < end) requestAnimationFrame(frame)
          else done(times)
        }
        requestAnimationFrame(frame)
      }),
    ms,
  )
  const sorted = [...frames].sort((a, b) => a - b)
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] * 10) / 10
  return { frames: frames.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1), over_50ms: frames.filter((f) => f > 50).length }
}

/** Plays at `speed` for `ms` and reports frame times (reported, never asserted:
 * docs/decisions.md#tests-never-assert-timings). */
export async function measurePlayback({ url, speed = '50', ms = 8000 }) {
  const profile = mkdtempSync(join(tmpdir(), 'townlet-e2e-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(url, { waitUntil: 'domcontentloaded' })
    await page.getByTestId('agent').waitFor({ timeout: DEADLINE })
    await page.getByTestId('speed').selectOption(speed)
    const length = Number(await page.getByTestId('length').textContent())
    return { speed, episode_steps: length, ...(await measureFrames(page, ms)) }
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
}

export async function runE2E({ url, screenshots = resolve(here, '..', '..', 'test-output', 'screenshots'), log = console.log, probes = true, teacherToken = null } = {}) {
  if (!url) throw new Error('no server URL (set TOWNLET_URL)')
  mkdirSync(screenshots, { recursive: true })
  const profile = mkdtempSync(join(tmpdir(), 'townlet-e2e-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
  })
  const results = []
  const pageErrors = []
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text())
  })
  const text = async (id) => (await page.getByTestId(id).first().textContent())?.trim() ?? ''
  const num = async (id) => Number(await text(id))
  const waitFor = async (what, fn) => {
    const start = Date.now()
    for (;;) {
      if (await fn()) return
      if (Date.now() - start > DEADLINE) throw new Error(`timed out waiting for ${what}`)
      await page.waitForTimeout(100)
    }
  }
  const shot = async (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true })
  shot.dir = screenshots
  async function check(name, fn) {
    try {
      await fn()
      results.push({ name, ok: true })
      log(`ok   ${name}`)
    } catch (e) {
      results.push({ name, ok: false, error: String(e?.message ?? e) })
      log(`FAIL ${name}: ${e?.message ?? e}`)
      await shot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => {})
    }
  }

  try {
    await page.goto(url, { waitUntil: 'domcontentloaded' })

    await check('grid renders at the size hello gives', async () => {
      await page.getByTestId('grid').waitFor({ timeout: DEADLINE })
      const grid = page.getByTestId('grid')
      const w = Number(await grid.getAttribute('data-width'))
      const h = Number(await grid.getAttribute('data-height'))
      const cells = await page.getByTestId('cell').count()
      if (!(w > 0 && h > 0 && cells === w * h)) throw new Error(`grid ${w}x${h} with ${cells} cells`)
      await page.getByTestId('agent').waitFor({ timeout: DEADLINE })
      if ((await page.getByTestId('affordance').count()) < 1) throw new Error('no affordances drawn')
    })

    await check('8 meters render', async () => {
      await waitFor('8 meters', async () => (await page.getByTestId('meter').count()) === 8)
    })

    await check('mode badge says LIVE TRAINING', async () => {
      await waitFor('LIVE TRAINING badge', async () => (await text('mode-badge')) === 'LIVE TRAINING')
    })

    await check('latency is shown', async () => {
      await waitFor('a latency in ms', async () => /^\d+ ms$/.test(await text('latency')))
    })

    await check('charts are filled from the history', async () => {
      await waitFor('chart canvases', async () => (await page.locator('[data-testid=chart-survival] canvas').count()) > 0)
    })
    await shot('live')

    await check('latest episode counter advances', async () => {
      await waitFor('a latest id', async () => Number.isFinite(await num('latest-id')))
      const first = await num('latest-id')
      await waitFor('a newer episode', async () => (await num('latest-id')) > first)
    })

    await check('pause stops playback', async () => {
      const button = page.getByTestId('play-pause')
      if ((await button.getAttribute('aria-pressed')) === 'true') await button.click()
      await button.click()
      await waitFor('paused state', async () => (await button.getAttribute('aria-pressed')) === 'true')
      const episode = await text('episode-id')
      const cursor = await num('cursor')
      await page.waitForTimeout(1500)
      if ((await text('episode-id')) !== episode || (await num('cursor')) !== cursor) throw new Error('playback moved while paused')
    })

    await check('step advances by one step', async () => {
      // At the very end a step moves to the next episode; seek back one step first.
      const length = await num('length')
      if ((await num('cursor')) >= length) await page.getByTestId('seek').fill(String(Math.max(0, length - 1)))
      const before = await num('cursor')
      await page.getByTestId('step').click()
      await waitFor('cursor + 1', async () => (await num('cursor')) === before + 1)
      await page.keyboard.press('ArrowRight')
      if (before + 2 <= length) await waitFor('cursor + 2 (keyboard)', async () => (await num('cursor')) === before + 2)
      await shot('paused-step')
    })

    await check('speed change plays faster and the episode shown advances', async () => {
      await page.getByTestId('speed').selectOption('50')
      if ((await page.getByTestId('speed').inputValue()) !== '50') throw new Error('speed not set')
      const episode = await num('episode-id')
      await page.getByTestId('play-pause').click()
      await waitFor('the next episode at 50x', async () => (await num('episode-id')) > episode)
    })

    const perf = await measureFrames(page, 4000)
    log(`info frame times at 50x over 4 s: ${JSON.stringify(perf)}`)

    await check('jump to live shows the newest episode', async () => {
      await page.getByTestId('speed').selectOption('1')
      const latest = await num('latest-id')
      await page.getByTestId('jump-live').click()
      await waitFor('an episode at least as new as the latest', async () => (await num('episode-id')) >= latest)
    })

    await check('a replay loads', async () => {
      await page.locator('[data-testid=recordings] summary').click()
      await waitFor('recordings listed', async () => {
        if ((await page.getByTestId('recording-row').count()) > 0) return true
        await page.getByTestId('list-recordings').click()
        await page.waitForTimeout(1000)
        return false
      })
      const row = page.getByTestId('recording-row').first()
      const id = Number(await row.getAttribute('data-episode'))
      await row.getByTestId('load-replay').click()
      await waitFor('REPLAY badge', async () => (await text('mode-badge')) === 'REPLAY' && (await num('episode-id')) === id)
      await shot('replay')
      await page.getByTestId('jump-live').click()
      await waitFor('back to LIVE TRAINING', async () => (await text('mode-badge')) === 'LIVE TRAINING')
    })

    if (probes) await probeChecks({ page, check, waitFor, text, shot })
    else log('info the fixture server answers no probes: policy map and GIF checks skipped')

    if ((await page.getByTestId('run-picker').count()) > 0) await labChecks({ page, url, check, waitFor, text, num, shot })
    else log('info one run on this server: no run picker, compare view or run links to check')

    if (teacherToken) await teacherChecks({ url, token: teacherToken, check, shot, pageErrors })
    else log('info no teacher token given (TOWNLET_TEACHER_TOKEN): the teacher and presenting checks are skipped')

    await check('no errors in the page', async () => {
      if (pageErrors.length > 0) throw new Error(pageErrors.join('\n'))
    })
    results.push({ name: 'frame times at 50x (reported)', ok: true, perf })
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
  writeFileSync(join(screenshots, 'e2e-results.json'), JSON.stringify(results, null, 2))
  const failed = results.filter((r) => !r.ok)
  log(`${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${screenshots}`)
  return failed.length === 0
}

/**
 * "Ask the agent" on a real server: the policy map appears for the paused step, moving the
 * what-if meter sliders changes at least one arrow, and the download button yields a GIF.
 */
async function probeChecks({ page, check, waitFor, text, shot }) {
  const arrows = async () => (await page.getByTestId('policy-arrow').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-cell')}:${e.getAttribute('data-action')}`))).join(' ')
  await check('the policy map appears', async () => {
    const button = page.getByTestId('play-pause')
    if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click()
    await page.getByTestId('ask-toggle').check()
    // The first network snapshot comes after `snapshot_interval` episodes.
    await waitFor('policy arrows', async () => (await page.getByTestId('policy-arrow').count()) > 0)
    const cells = await page.getByTestId('cell').count()
    await waitFor('an arrow on every cell', async () => (await page.getByTestId('policy-arrow').count()) === cells)
    const network = await text('probe-network')
    if (!/network after episode \d+/.test(network)) throw new Error(`network line: ${network}`)
    await page.getByTestId('policy-legend').waitFor({ timeout: DEADLINE })
    await shot('policy-map')
  })
  await check('a meter slider changes at least one arrow on a prepared state', async () => {
    const before = await arrows()
    const sliders = await page.locator('[data-testid^=whatif-]:not([data-testid=whatif-reset])').all()
    let changed = false
    // Drain the meters one by one until the policy turns somewhere.
    for (const s of sliders) {
      await s.evaluate((el) => {
        el.value = '0'
        el.dispatchEvent(new Event('input', { bubbles: true }))
      })
      // Give the answer a few seconds; if no arrow turned, drain the next meter too.
      const until = Date.now() + 5000
      while (!changed && Date.now() < until) {
        changed = (await arrows()) !== before && /what if/.test(await text('probe-network'))
        if (!changed) await page.waitForTimeout(100)
      }
      if (changed) break
    }
    if (!changed) throw new Error('no arrow changed with every meter at 0')
    await shot('policy-map-what-if')
    await page.getByTestId('whatif-reset').click()
    await waitFor('back to the real state', async () => !/what if/.test(await text('probe-network')))
  })
  await check('the download buttons yield a GIF and an MP4 video', async () => {
    for (const [testid, type, magicAt, magic, ext] of [
      ['download-gif', 'image/gif', 0, 'GIF89a', '.gif'],
      ['download-video', 'video/mp4', 4, 'ftyp', '.mp4'],
    ]) {
      const link = page.getByTestId(testid)
      const href = await link.getAttribute('href')
      if ((await link.getAttribute('download')) === null) throw new Error(`${testid}: the link is not a download`)
      const head = await page.evaluate(async ([u, at, n]) => {
        const r = await fetch(u)
        const bytes = new Uint8Array(await r.arrayBuffer())
        return { status: r.status, type: r.headers.get('content-type'), magic: String.fromCharCode(...bytes.slice(at, at + n)), size: bytes.length }
      }, [href, magicAt, magic.length])
      if (head.status !== 200 || head.type !== type || head.magic !== magic) throw new Error(`${testid}: ${JSON.stringify(head)}`)
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: DEADLINE }), link.click()])
      if (!download.suggestedFilename().endsWith(ext)) throw new Error(`${testid}: file name ${download.suggestedFilename()}`)
    }
    await page.getByTestId('ask-toggle').uncheck()
    // Leave the page playing, as the checks after these expect.
    const button = page.getByTestId('play-pause')
    if ((await button.getAttribute('aria-pressed')) === 'true') await button.click()
  })
}

/**
 * The checks of a server with two or more runs (a lab): the run picker, watching another
 * run, the compare view playing both runs (and in step), back/forward between views, and a
 * link that opens one step of one episode of one run (also after a reload).
 */
async function labChecks({ page, url, check, waitFor, text, num, shot }) {
  const search = () => new URL(page.url()).searchParams
  const ids = async () => page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')))
  const paneText = async (i, id) => ((await page.getByTestId('compare-pane').nth(i).getByTestId(id).textContent()) ?? '').trim()
  let runs = []

  await check('run picker lists the runs with status, episodes and a sparkline', async () => {
    runs = await ids()
    if (runs.length < 2) throw new Error(`${runs.length} runs listed`)
    for (const id of ['run-name', 'run-status', 'run-episodes', 'run-best']) {
      const n = await page.getByTestId(id).count()
      if (n !== runs.length) throw new Error(`${n} ${id} for ${runs.length} runs`)
    }
    await waitFor('a sparkline per run', async () => (await page.locator('[data-testid=sparkline] polyline').count()) === runs.length)
  })

  await check('the picker switches to another run', async () => {
    await page.locator(`[data-testid=run-row][data-run="${runs[1]}"] [data-testid=run-watch]`).click()
    await waitFor(`?run=${runs[1]}`, async () => search().get('run') === runs[1])
    const name = (await page.locator(`[data-testid=run-row][data-run="${runs[1]}"] [data-testid=run-name]`).textContent())?.trim()
    await waitFor(`its name (${name}) in the header`, async () => (await text('run-shown')) === name)
    await waitFor('its episodes', async () => Number.isFinite(await num('episode-id')) && Number.isFinite(await num('latest-id')))
  })

  await check('compare view plays both runs with one set of controls', async () => {
    for (const id of runs.slice(0, 2)) await page.locator(`[data-testid=run-row][data-run="${id}"] [data-testid=run-pick]`).check()
    await page.getByTestId('run-compare').click()
    await page.getByTestId('compare-view').waitFor({ timeout: 60_000 })
    await waitFor('?compare=', async () => search().get('compare') === runs.slice(0, 2).join(','))
    await waitFor('each pane watching its run', async () => {
      const shown = await page.getByTestId('compare-pane').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-run')))
      return shown.join(',') === runs.slice(0, 2).join(',')
    })
    await waitFor('an episode in both panes', async () => Number.isFinite(Number(await paneText(0, 'pane-episode'))) && Number.isFinite(Number(await paneText(1, 'pane-episode'))))
    await waitFor('both grids', async () => (await page.getByTestId('agent').count()) === 2)
    const before = [Number(await paneText(0, 'pane-cursor')), Number(await paneText(1, 'pane-cursor'))]
    await waitFor('both panes playing', async () => Number(await paneText(0, 'pane-cursor')) !== before[0] && Number(await paneText(1, 'pane-cursor')) !== before[1])
    // The charts overlay both runs, with a legend naming each.
    const names = await page.getByTestId('run-name').allTextContents()
    await waitFor('both runs in the survival legend', async () => {
      const legend = (await page.locator('[data-testid=chart-survival] .u-legend').textContent()) ?? ''
      return names.slice(0, 2).every((n) => legend.includes(n.trim()))
    })
    // One pause stops both.
    await page.getByTestId('play-pause').click()
    const paused = [await paneText(0, 'pane-cursor'), await paneText(1, 'pane-cursor')]
    await page.waitForTimeout(1000)
    if ((await paneText(0, 'pane-cursor')) !== paused[0] || (await paneText(1, 'pane-cursor')) !== paused[1]) throw new Error('a pane moved while paused')
    await page.getByTestId('play-pause').click()
  })

  await check('compare view fits 1366x768', async () => {
    await page.setViewportSize({ width: 1366, height: 768 })
    await page.waitForTimeout(500)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    if (overflow > 0) throw new Error(`${overflow} px wider than the window`)
    await page.screenshot({ path: join(shotDir(shot), 'compare-1366x768.png') })
    await page.setViewportSize({ width: 1400, height: 1000 })
  })

  await check('in step, both runs play the same episode', async () => {
    await page.getByTestId('sync').check()
    await waitFor('sync=1', async () => search().get('sync') === '1')
    await waitFor('the same episode in both panes', async () => {
      const a = await paneText(0, 'pane-episode')
      return a !== '—' && a === (await paneText(1, 'pane-episode'))
    })
  })

  await check('back and forward move between views', async () => {
    await page.goBack()
    await waitFor('the comparison without sync', async () => search().get('compare') !== null && search().get('sync') === null)
    await page.goBack()
    await waitFor(`back to ?run=${runs[1]}`, async () => search().get('run') === runs[1] && (await page.getByTestId('compare-view').count()) === 0)
    await page.getByTestId('episode-id').waitFor({ timeout: 60_000 })
    await page.goForward()
    await waitFor('the compare view again', async () => (await page.getByTestId('compare-view').count()) === 1 && search().get('compare') !== null)
    await waitFor('both panes playing again', async () => (await page.getByTestId('agent').count()) === 2)
  })

  await check('a link opens one step of one episode of one run, also after a reload', async () => {
    // An episode the server still holds: the newest one of the run.
    await page.getByTestId('close-compare').click()
    await waitFor('the single view', async () => (await page.getByTestId('compare-view').count()) === 0)
    // The run shown now (the first of the two compared) and its newest episode.
    const run = search().get('run') ?? runs[0]
    await waitFor(`?run= with the newest episode of ${run}`, async () => search().get('run') === run && Number.isFinite(await num('latest-id')))
    const ep = await num('latest-id')
    const link = new URL(url)
    link.search = `?run=${encodeURIComponent(run)}&ep=${ep}&step=3`
    for (const how of ['open', 'reload']) {
      if (how === 'open') await page.goto(link.href, { waitUntil: 'domcontentloaded' })
      else await page.reload({ waitUntil: 'domcontentloaded' })
      await waitFor(`episode ${ep} at step 3 (${how})`, async () => (await num('episode-id')) === ep && (await num('cursor')) === 3)
      if ((await page.getByTestId('play-pause').getAttribute('aria-pressed')) !== 'true') throw new Error('not paused on the linked step')
      const q = search()
      if (q.get('run') !== run || q.get('ep') !== String(ep) || q.get('step') !== '3') throw new Error(`the URL became ${page.url()}`)
    }
    await shot('deep-link')
  })
}

/**
 * The teacher's seat with three browsers (separate browser contexts: one teacher, two
 * viewers): only the teacher URL gets the Training panel; presenting moves both viewers to
 * the teacher's episode and step; a detached viewer stays put and can follow again; a
 * training change puts a marker on every viewer's charts.
 */
async function teacherChecks({ url, token, check, shot, pageErrors }) {
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS })
  const open = async (name, href) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
    const page = await context.newPage()
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e}`))
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`${name}: ${m.text()}`)
    })
    await page.goto(href, { waitUntil: 'domcontentloaded' })
    return page
  }
  const text = async (page, id) => (await page.getByTestId(id).first().textContent())?.trim() ?? ''
  const num = async (page, id) => Number(await text(page, id))
  const waitFor = async (page, what, fn) => {
    const start = Date.now()
    for (;;) {
      if (await fn()) return
      if (Date.now() - start > DEADLINE) throw new Error(`timed out waiting for ${what}`)
      await page.waitForTimeout(100)
    }
  }
  const at = async (page) => ({ episode: await num(page, 'episode-id'), step: await num(page, 'cursor'), paused: (await page.getByTestId('play-pause').getAttribute('aria-pressed')) === 'true' })
  const teacherUrl = new URL(url)
  teacherUrl.searchParams.set('token', token)
  try {
    const teacher = await open('teacher', teacherUrl.href)
    const a = await open('viewer A', url)
    const b = await open('viewer B', url)
    const viewers = [a, b]
    const seek = async (step) => {
      await teacher.getByTestId('seek').fill(String(step))
      await waitFor(teacher, `the teacher at step ${step}`, async () => (await num(teacher, 'cursor')) === step)
    }
    const followsTeacher = async (page, who) => {
      const want = await at(teacher)
      await waitFor(page, `${who} at episode ${want.episode} step ${want.step}`, async () => {
        const got = await at(page)
        return got.episode === want.episode && got.step === want.step && got.paused === want.paused
      })
    }

    await check('the teacher URL shows the Training panel, the viewer URL none', async () => {
      await teacher.getByTestId('training-panel').waitFor({ timeout: DEADLINE })
      // In a lab the panel names the run its controls apply to: the one watched.
      if ((await teacher.getByTestId('run-picker').count()) > 0) {
        await waitFor(teacher, 'the controlled run named', async () => (await teacher.getByTestId('training-run').count()) === 1 && (await text(teacher, 'training-run')) === (await text(teacher, 'run-shown')))
      }
      for (const v of viewers) {
        await v.getByTestId('agent').waitFor({ timeout: DEADLINE })
        if ((await v.getByTestId('training-panel').count()) !== 0) throw new Error('a viewer has the Training panel')
      }
    })

    await check('presenting moves both viewers to the teacher\'s episode and step', async () => {
      await teacher.getByTestId('agent').waitFor({ timeout: DEADLINE })
      const button = teacher.getByTestId('play-pause')
      if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click()
      await waitFor(teacher, 'the teacher paused', async () => (await button.getAttribute('aria-pressed')) === 'true')
      await seek(Math.min(5, await num(teacher, 'length')))
      await teacher.getByTestId('present').click()
      await teacher.getByTestId('presenting-banner').waitFor({ timeout: DEADLINE })
      for (const [v, who] of [[a, 'viewer A'], [b, 'viewer B']]) {
        await v.getByTestId('following').waitFor({ timeout: DEADLINE })
        await followsTeacher(v, who)
      }
      // A move while presenting reaches both.
      await seek(Math.min(9, await num(teacher, 'length')))
      await followsTeacher(a, 'viewer A')
      await followsTeacher(b, 'viewer B')
      await teacher.screenshot({ path: join(shot.dir, 'teacher-presenting.png'), fullPage: true })
      await a.screenshot({ path: join(shot.dir, 'viewer-following.png'), fullPage: true })
    })

    await check('a detached viewer stays put, and follows again on request', async () => {
      await b.getByTestId('detach').click()
      await b.getByTestId('refollow').waitFor({ timeout: DEADLINE })
      const kept = await at(b)
      await seek(2)
      await followsTeacher(a, 'viewer A')
      await b.waitForTimeout(1500)
      const now = await at(b)
      if (now.episode !== kept.episode || now.step !== kept.step) throw new Error(`the detached viewer moved from ${JSON.stringify(kept)} to ${JSON.stringify(now)}`)
      await b.getByTestId('refollow').click()
      await b.getByTestId('following').waitFor({ timeout: DEADLINE })
      await followsTeacher(b, 'viewer B (following again)')
    })

    await check('a training change puts a marker on every viewer\'s charts', async () => {
      const pages = [teacher, a, b]
      const before = await Promise.all(pages.map((p) => p.getByTestId('training-marker').count()))
      await teacher.getByTestId('epsilon-input').fill('0.5')
      await teacher.getByTestId('epsilon-set').click()
      for (const [i, p] of pages.entries()) {
        await waitFor(p, `a new marker on page ${i}`, async () => (await p.getByTestId('training-marker').count()) > before[i])
        const title = (await p.getByTestId('training-marker').last().getAttribute('title')) ?? ''
        if (!/ε .*→ 0\.5 \(teacher\)/.test(title)) throw new Error(`marker tooltip: ${title}`)
      }
      await waitFor(teacher, 'the last change in the panel', async () => /→ 0\.5/.test(await text(teacher, 'last-event')))
      await teacher.screenshot({ path: join(shot.dir, 'teacher-training-panel.png'), fullPage: true })
      // Back to the schedule, so the run goes on as configured.
      await teacher.getByTestId('epsilon-schedule').click()
    })

    await check('stopping presenting releases the viewers', async () => {
      await teacher.getByTestId('present').click()
      for (const v of viewers) await v.getByTestId('follow-banner').waitFor({ state: 'detached', timeout: DEADLINE })
    })
  } finally {
    await browser.close()
  }
}

/** The folder `shot` writes to (its screenshots' folder). */
function shotDir(shot) {
  return shot.dir
}

/**
 * Opens the viewer once and takes a screenshot `<name>.png` after checking the mode badge
 * (and, for temporal packs, the time-of-day bar). For documenting each mode.
 */
export async function screenshotMode({ url, name, badge, temporal = false, screenshots = resolve(here, '..', '..', 'test-output', 'screenshots') }) {
  mkdirSync(screenshots, { recursive: true })
  const profile = mkdtempSync(join(tmpdir(), 'townlet-e2e-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(url, { waitUntil: 'domcontentloaded' })
    await page.getByTestId('agent').waitFor({ timeout: DEADLINE })
    await page.locator(`[data-testid=mode-badge]:text-is("${badge}")`).waitFor({ timeout: DEADLINE })
    if (temporal) {
      await page.getByTestId('time-of-day').waitFor({ timeout: DEADLINE })
      // Play at 1x until the agent is mid-interaction, then pause so the ring shows.
      await page.getByTestId('progress-ring').waitFor({ timeout: DEADLINE })
      await page.keyboard.press('Space')
    }
    await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true })
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ok = await runE2E({ url: process.env.TOWNLET_URL, screenshots: process.env.TOWNLET_SCREENSHOTS || undefined, teacherToken: process.env.TOWNLET_TEACHER_TOKEN || null })
  process.exit(ok ? 0 : 1)
}
