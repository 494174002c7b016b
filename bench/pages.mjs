// make bench, "pages" section: what a visitor on a slow phone gets.
//
//   node bench/pages.mjs CONFIG.json > RESULT.json
//
// CONFIG: { runs, sites: [{ label, base, cookie?, pages: [{ name, path, signedIn? }],
//           navigation?: { from, link, arrived } }] }
//
// Headless Chromium (Debian's, driven by Playwright from end2end/) with
// the network throttled through CDP to 1.6 Mbps down, 750 kbps up and
// 150 ms of latency, and the CPU slowed 4x (Lighthouse's "slow 4G" phone).
// Each page is measured cold (a new browser context: empty cache) and warm
// (the same context, visited before), `runs` times; the report takes the
// median. Measured per visit:
// - bytes on the wire by type (encoded bodies and headers, from CDP's
//   Network.loadingFinished; 0 for what came from the browser's cache), and
//   requests;
// - LCP (largest-contentful-paint);
// - interactive: when the page's own code has run. A page that hydrates at
//   load (full hydration, or an island that must work at once) is
//   interactive when it marks <body data-hydrated>; a page without such
//   code (server-rendered HTML, or islands loaded on interaction) when its
//   DOM is ready. Either way no earlier than the end of the last long task.
// - TBT: the sum over long tasks after the first contentful paint of their
//   time beyond 50 ms;
// - for pages whose islands load on interaction: how long after the search
//   box is focused its code is live;
// and the time a navigation takes: from a click on a link of `from` until
// the page it opens shows `arrived` and is interactive.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(root, 'end2end', 'package.json'));
const { chromium } = require('@playwright/test');

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const RUNS = config.runs ?? 3;
const NETWORK = {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6e6 / 8) | 0,
  uploadThroughput: (750e3 / 8) | 0,
};
const CPU_SLOWDOWN = 4;

// Runs in every document before its own scripts.
const OBSERVE = () => {
  const perf = { lcp: 0, fcp: 0, longTasks: [], hydrated: null };
  window.__bench = perf;
  const watch = (type, f) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(f)).observe({ type, buffered: true });
    } catch {}
  };
  watch('largest-contentful-paint', (e) => (perf.lcp = e.startTime));
  watch('paint', (e) => e.name === 'first-contentful-paint' && (perf.fcp = e.startTime));
  watch('longtask', (e) => perf.longTasks.push([e.startTime, e.duration]));
  new MutationObserver(() => {
    if (perf.hydrated === null && document.body && document.body.dataset.hydrated) {
      perf.hydrated = performance.now();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
};

// For the navigation: the click's time (capture phase, before the page's
// own handlers), and the first frame in which the destination's `arrived`
// element exists, whether the router rendered it or a new document did.
const TIME_ARRIVAL = (arrived) => {
  const epoch = () => performance.timeOrigin + performance.now();
  document.addEventListener(
    'click',
    (e) => sessionStorage.setItem('benchClickAt', String(performance.timeOrigin + e.timeStamp)),
    true,
  );
  let seen = false;
  const check = () => {
    if (seen || !document.querySelector(arrived)) return;
    seen = true;
    // Painted in the next frame.
    requestAnimationFrame(() => setTimeout(() => sessionStorage.setItem('benchArrivedAt', String(epoch())), 0));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
};

// Whether the page's code runs at load: a full-hydration page preloads its
// bundle; an islands page does when one island is not "on interaction".
const HYDRATES_AT_LOAD = () => {
  if (document.querySelector('link[rel="modulepreload"]')) return true;
  const islands = Array.from(document.querySelectorAll('leptos-island'));
  return islands.some((i) => !i.querySelector('[data-hydrate="interaction"]'));
};
const LAZY_ISLANDS = () => {
  const islands = Array.from(document.querySelectorAll('leptos-island'));
  return islands.length > 0 && islands.every((i) => i.querySelector('[data-hydrate="interaction"]'));
};

async function throttled(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  const requests = new Map();
  cdp.on('Network.responseReceived', (e) => {
    const r = requests.get(e.requestId) ?? {};
    requests.set(e.requestId, { ...r, url: e.response.url, mime: e.response.mimeType, type: e.type });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId) ?? {};
    requests.set(e.requestId, { ...r, bytes: e.encodedDataLength });
  });
  return { page, requests };
}

function kind(r) {
  const p = new URL(r.url).pathname;
  if (p.endsWith('.wasm') || r.mime === 'application/wasm') return 'wasm';
  if (p.endsWith('.js') || /javascript/.test(r.mime ?? '')) return 'js';
  if (p.endsWith('.css') || r.mime === 'text/css') return 'css';
  if (r.type === 'Document') return 'html';
  return 'other';
}

async function visit(page, requests, url) {
  requests.clear();
  const response = await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
  const atLoad = await page.evaluate(HYDRATES_AT_LOAD);
  if (atLoad) {
    await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 120_000 });
  }
  await page.waitForLoadState('networkidle', { timeout: 120_000 }).catch(() => {});
  await page.waitForTimeout(300);
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return { ...window.__bench, dcl: nav ? nav.domContentLoadedEventEnd : 0 };
  });
  const lastTaskEnd = Math.max(0, ...m.longTasks.map(([s, d]) => s + d));
  const ready = atLoad ? m.hydrated ?? m.dcl : m.dcl;
  const tbt = m.longTasks.filter(([s]) => s >= m.fcp).reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0);
  const bytes = { html: 0, css: 0, js: 0, wasm: 0, other: 0 };
  let count = 0;
  for (const r of requests.values()) {
    if (!r.url || r.bytes === undefined) continue;
    bytes[kind(r)] += r.bytes;
    count += 1;
  }
  return {
    status: response ? response.status() : 0,
    lcp: m.lcp,
    interactive: Math.max(ready, lastTaskEnd),
    tbt,
    bytes,
    total: Object.values(bytes).reduce((a, b) => a + b, 0),
    requests: count,
    hydratesAtLoad: atLoad,
  };
}

/** How long after the search box is focused its islands' code is live. */
async function wakeTime(page) {
  if (!(await page.evaluate(LAZY_ISLANDS))) return null;
  const box = page.locator('leptos-island input[type="search"]').first();
  const start = Date.now();
  await box.focus();
  await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 120_000 });
  return Date.now() - start;
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

function summarize(visits) {
  const pick = (f) => median(visits.map(f));
  return {
    status: visits[0].status,
    lcp: pick((v) => v.lcp),
    interactive: pick((v) => v.interactive),
    tbt: pick((v) => v.tbt),
    total: pick((v) => v.total),
    requests: pick((v) => v.requests),
    bytes: Object.fromEntries(['html', 'css', 'js', 'wasm', 'other'].map((k) => [k, pick((v) => v.bytes[k])])),
    hydratesAtLoad: visits[0].hydratesAtLoad,
    wake: pick((v) => v.wake),
  };
}

async function newContext(browser, site, signedIn = false) {
  const context = await browser.newContext();
  if (signedIn && site.cookie) {
    const [name, ...value] = site.cookie.split('=');
    await context.addCookies([{ name, value: value.join('='), url: site.base }]);
  }
  await context.addInitScript(OBSERVE);
  return context;
}

// A pointer rests on a link for a moment before it clicks; a keyboard or a
// quick tap does not. Navigations are timed both ways.
const HOVER_MS = 300;

/** A warm navigation's median time to show, and to be interactive. */
async function navigate(browser, site, hoverMs) {
  const times = [];
  const shownTimes = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await newContext(browser, site);
    await context.addInitScript(TIME_ARRIVAL, site.navigation.arrived);
    const { page, requests } = await throttled(context);
    // Warm: the destination's code is cached, as after any earlier visit.
    await visit(page, requests, site.base + site.navigation.warmup);
    await visit(page, requests, site.base + site.navigation.from);
    await page.evaluate(() => sessionStorage.removeItem('benchArrivedAt'));
    const link = page.locator(site.navigation.link).first();
    if (hoverMs > 0) {
      await link.hover();
      await page.waitForTimeout(hoverMs);
    }
    await link.click();
    await page.waitForSelector(site.navigation.arrived, { timeout: 120_000 });
    if (await page.evaluate(HYDRATES_AT_LOAD)) {
      await page.waitForSelector('body[data-hydrated]', { state: 'attached', timeout: 120_000 });
    }
    // Clock times in the page, on the epoch: the click's event time in the
    // page clicked, the arrival and hydration in the page that shows.
    await page.waitForFunction(() => sessionStorage.getItem('benchArrivedAt') !== null);
    const t = await page.evaluate(() => ({
      click: Number(sessionStorage.getItem('benchClickAt')),
      arrived: Number(sessionStorage.getItem('benchArrivedAt')),
      hydrated: window.__bench.hydrated === null ? 0 : performance.timeOrigin + window.__bench.hydrated,
    }));
    shownTimes.push(t.arrived - t.click);
    times.push(Math.max(t.arrived, t.hydrated) - t.click);
    await context.close();
  }
  return { shown: median(shownTimes), interactive: median(times) };
}

async function measureSite(browser, site) {
  const pages = [];
  for (const p of site.pages) {
    const cold = [];
    const warm = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await newContext(browser, site, p.signedIn);
      const { page, requests } = await throttled(context);
      const first = await visit(page, requests, site.base + p.path);
      first.wake = await wakeTime(page);
      cold.push(first);
      const again = await visit(page, requests, site.base + p.path);
      again.wake = await wakeTime(page);
      warm.push(again);
      await context.close();
    }
    pages.push({ name: p.name, path: p.path, cold: summarize(cold), warm: summarize(warm) });
    process.stderr.write(`pages: ${site.label} ${p.path} done\n`);
  }
  let navigation = null;
  if (site.navigation) {
    navigation = { ...site.navigation, direct: await navigate(browser, site, 0), hovered: await navigate(browser, site, HOVER_MS) };
  }
  return { label: site.label, base: site.base, pages, navigation };
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const results = [];
for (const site of config.sites) results.push(await measureSite(browser, site));
await browser.close();
process.stdout.write(JSON.stringify({ runs: RUNS, network: NETWORK, cpuSlowdown: CPU_SLOWDOWN, sites: results }, null, 2));
