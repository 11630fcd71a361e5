#!/usr/bin/env node
// Runs the browser checks against the fixture server on an ephemeral port (for
// developing the frontend without the Rust server). Needs `npm run build` first.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startFixtureServer } from './fixture-server.mjs'
import { checkReconnect, measurePlayback, runE2E, screenshotMode } from './run.mjs'

if (!existsSync(fileURLToPath(new URL('../dist/index.html', import.meta.url)))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(2)
}
const server = await startFixtureServer({ port: 0 })
const screenshots = process.env.TOWNLET_SCREENSHOTS || undefined
let ok = false
try {
  ok = await runE2E({ url: server.url, screenshots, probes: false })
} finally {
  await server.close()
}
// The other modes, for the docs: checkpoint, and a temporal pack (clock, progress ring).
for (const [name, opts, badge] of [
  ['checkpoint', { mode: 'checkpoint' }, 'CHECKPOINT'],
  ['temporal', { temporal: true }, 'LIVE TRAINING'],
]) {
  const other = await startFixtureServer({ port: 0, ...opts })
  try {
    await screenshotMode({ url: other.url, name, badge, temporal: opts.temporal === true, screenshots })
    console.log(`ok   ${name} mode screenshot`)
  } catch (e) {
    ok = false
    console.log(`FAIL ${name} mode screenshot: ${e?.message ?? e}`)
  } finally {
    await other.close()
  }
}
// Reconnection: the server goes away and comes back on the same port.
{
  let flaky = await startFixtureServer({ port: 0 })
  const port = flaky.port
  try {
    await checkReconnect({
      url: flaky.url,
      stop: () => flaky.close(),
      restart: async () => {
        flaky = await startFixtureServer({ port })
      },
    })
    console.log('ok   offline banner while the server is down, reconnects when it is back')
  } catch (e) {
    ok = false
    console.log(`FAIL reconnect: ${e?.message ?? e}`)
  } finally {
    await flaky.close()
  }
}

// Smoothness at 50× with 500-step L1 episodes: measured and reported, not asserted
// (docs/decisions.md#tests-never-assert-timings).
const long = await startFixtureServer({ port: 0, long: true, intervalMs: 2000 })
try {
  console.log(`info playback with 500-step episodes: ${JSON.stringify(await measurePlayback({ url: long.url, speed: '50' }))}`)
} finally {
  await long.close()
}
process.exit(ok ? 0 : 1)
