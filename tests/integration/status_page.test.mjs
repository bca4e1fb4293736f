// The admin status page (GET / on the admin listener) in a real browser: Debian's chromium,
// headless, driven by puppeteer-core. The page refreshes itself; nothing here reloads it. A
// simulated upstream is broken through the simulator's control API, and the DOM must show it
// not routable by the page's next refresh, with every reason, a countdown that counts down,
// the last error's age, and the per-model view naming the target that serves next. A
// screenshot is saved as a CI artifact (LLMGW_STATUS_SCREENSHOT, default
// build/artifacts/status-page.png).
//
// Chromium is part of CI's dependencies (scripts/install-deps.sh): a missing browser fails the
// test, it does not skip it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { REPO, postJson, simProvider, startGateway, startSim, waitFor } from './lib/harness.mjs';

const CHROMIUM = process.env.LLMGW_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.LLMGW_STATUS_SCREENSHOT ||
  path.join(REPO, 'build', 'artifacts', 'status-page.png');
const REFRESH_MS = 2000;  // the page's meta refresh
// One refresh plus the time a page load takes; a sanitized gateway and browser are slow.
const SLOW = process.env.LLMGW_SANITIZED ? 4 : 1;
const ONE_REFRESH_MS = (REFRESH_MS + 3000) * SLOW;

const ctx = {};

before(async () => {
  assert.ok(existsSync(CHROMIUM),
    `chromium not found at ${CHROMIUM}: install it (scripts/install-deps.sh installs Debian's ` +
    '`chromium`) or point LLMGW_CHROMIUM at a Chromium binary');
  const [primary, backup] = await Promise.all([startSim({ name: 'sp' }), startSim({ name: 'sb' })]);
  ctx.primary = primary;
  ctx.gw = await startGateway({
    providers: [
      simProvider(primary, {
        health: {
          active: { kind: 'http', interval: '300ms', timeout: '1s', healthy_after: 1, unhealthy_after: 1 },
          passive: { consecutive_failures: 2, failure_rate: 1.0, min_requests: 1000, window: '10s',
            eject_for: '60s', max_eject_for: '60s' },
        },
        circuit_breaker: { open_after_failure_rate: 0.5, min_requests: 2, window: '10s',
          open_for: '60s', half_open_probes: 1 },
      }),
      simProvider(backup),
    ],
    models: [{ name: 'chat', targets: [{ provider: 'sp', model: 'm1' }, { provider: 'sb', model: 'm2' }],
      retry: { attempts: 1 } }],
    auth: { required: false },
  });
  ctx.browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 60_000,
    protocolTimeout: 60_000,
  });
  ctx.page = await ctx.browser.newPage();
  await ctx.page.setViewport({ width: 1600, height: 900 });
  ctx.loads = 0;
  ctx.page.on('load', () => ctx.loads++);
});

after(async () => {
  await ctx.browser?.close().catch(() => {});
});

// What the page shows now, or null while a refresh is still parsing the new document. A
// refresh may also replace the document while this runs: the caller polls, so a read that
// fails is simply tried again.
async function readPage(page) {
  const view = await page.evaluate(() => {
    if (document.readyState === 'loading') return null;
    const text = (el) => (el ? el.textContent.trim() : null);
    const upstreams = {};
    for (const row of document.querySelectorAll('#upstreams tr[data-provider]')) {
      upstreams[row.dataset.provider] = {
        state: text(row.querySelector('td.state')),
        reasons: [...row.querySelectorAll('td.why li')].map((li) => ({
          kind: li.dataset.kind,
          text: text(li),
          ms: li.querySelector('.countdown') ? Number(li.querySelector('.countdown').dataset.ms) : null,
        })),
        ttft: text(row.querySelector('td.ttft')),
        lastError: text(row.querySelector('td.last-error')),
      };
    }
    const models = {};
    for (const row of document.querySelectorAll('#models tr[data-model]')) {
      models[row.dataset.model] = {
        state: text(row.querySelector('td.state')),
        next: row.querySelector('td.plan li.next')?.dataset.provider ?? null,
        nextText: text(row.querySelector('td.next')),
        plan: [...row.querySelectorAll('td.plan li')].map((li) => li.dataset.provider),
      };
    }
    return { upstreams, models, injected: document.getElementById('injected') !== null };
  });
  if (!view) throw new Error('the page is still loading');
  return view;
}

const chat = (content) => postJson(`${ctx.gw.url}/v1/chat/completions`,
  { model: 'chat', messages: [{ role: 'user', content }] });

test('the status page shows a broken upstream as not routable by its next refresh, with reasons, countdowns and the next target', async (t) => {
  const { gw, page, primary } = ctx;
  await page.goto(`${gw.adminUrl}/`, { waitUntil: 'load', timeout: 30_000 * SLOW });
  const before0 = await waitFor(async () => {
    const v = await readPage(page);
    return v.upstreams.sp?.state === 'routable' && v.models.chat ? v : null;
  }, { timeout: ONE_REFRESH_MS, interval: 100, what: 'the first page with sp routable' });
  assert.equal(before0.upstreams.sb.ttft, '—', 'no traffic yet: TTFT is no data, not 0.0');
  assert.equal(before0.models.chat.next, 'sp');
  assert.deepEqual(before0.models.chat.plan, ['sp', 'sb']);

  // Break the primary's chat answers (with markup in the error, which must stay text): two
  // failed attempts eject it and open its circuit; the requests still succeed on sb.
  await primary.fault({ mode: 'error', status: 503, message: '<img id="injected" src="x">',
    paths: ['/v1/chat/completions'] });
  // Counted before the state changes: a refresh during the requests below already counts.
  const loadsAtBreak = ctx.loads;
  for (let i = 0; i < 2; i++) {
    const r = await chat(`break ${i}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sb');
  }
  const broken = await waitFor(async () => {
    const v = await readPage(page);
    return v.upstreams.sp?.state === 'not routable' ? v : null;
  }, { timeout: ONE_REFRESH_MS, interval: 100, what: 'sp shown not routable within one refresh' });
  assert.ok(ctx.loads > loadsAtBreak, 'the page refreshed by itself');
  const sp = broken.upstreams.sp;
  const kinds = sp.reasons.map((r) => r.kind);
  assert.deepEqual(kinds, ['ejected', 'circuit_open'], JSON.stringify(sp.reasons));
  for (const r of sp.reasons) {
    assert.match(r.text, /\d+ s left/, `no countdown in "${r.text}"`);
    assert.ok(r.ms > 0 && r.ms <= 60_000, `remaining ${r.ms} ms`);
  }
  assert.match(sp.reasons[0].text, /ejected for 60s after 2 consecutive failures/);
  assert.match(sp.lastError, /<img id="injected" src="x">/, 'the error is shown as text');
  assert.match(sp.lastError, /\((just now|\d+ s ago)\)/, `no age in "${sp.lastError}"`);
  assert.equal(broken.injected, false, 'markup from an upstream error became an element');
  assert.equal(broken.models.chat.state, 'routable');
  assert.equal(broken.models.chat.next, 'sb');
  assert.match(broken.models.chat.nextText, /^sb \(m2\)/);
  assert.deepEqual(broken.models.chat.plan, ['sb'], 'sp is left out of the plan');

  // The countdown counts down from one refresh to the next.
  const firstMs = sp.reasons[0].ms;
  await waitFor(async () => {
    const v = await readPage(page);
    const ms = v.upstreams.sp?.reasons?.[0]?.ms;
    return ms !== undefined && ms !== null && ms < firstMs;
  }, { timeout: ONE_REFRESH_MS * 2, interval: 100, what: 'the ejection countdown to go down' });

  // Every reason, not only the first: the active check fails too once every path is broken.
  await primary.fault({ mode: 'error', status: 503, message: 'down' });
  const all = await waitFor(async () => {
    const v = await readPage(page);
    return v.upstreams.sp?.reasons?.length === 3 ? v : null;
  }, { timeout: ONE_REFRESH_MS * 2, interval: 100, what: 'the failing active check listed too' });
  assert.deepEqual(all.upstreams.sp.reasons.map((r) => r.kind), ['active', 'ejected', 'circuit_open']);
  assert.equal(all.upstreams.sp.reasons[0].ms, null, 'an active check ends by passing, not by time');

  // The JSON agrees with the page.
  const json = await (await gw.admin('/admin/upstreams')).json();
  const u = json.upstreams.find((x) => x.name === 'sp');
  assert.deepEqual(u.reasons.map((r) => r.kind), ['active', 'ejected', 'circuit_open']);
  assert.ok(u.reasons[1].remaining_ms > 0 && u.reasons[1].remaining_ms <= 60_000);
  assert.equal(json.models.find((m) => m.name === 'chat').next.provider, 'sb');

  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(existsSync(SCREENSHOT));
  t.diagnostic(`status page screenshot: ${SCREENSHOT}`);
  console.log(`status page screenshot: ${SCREENSHOT}`);
});
