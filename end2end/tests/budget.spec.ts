import { test, expect, hydrated, wake } from './fixtures';
import { Page } from '@playwright/test';

// The page-weight budget of the release build (issue 16), measured as a
// first visit (each test has a fresh browser context: nothing cached) in
// bytes on the wire: encoded bodies, as the server compressed them.
// A page needs at most 150 KB before it is interactive; a page whose only
// interactive part is the search box needs at most 40 KB of JavaScript and
// WebAssembly (it needs none: the box is a form until it is used).

const KB = 1024;

type Bytes = { html: number; css: number; js: number; wasm: number; other: number; requests: number };

/** Counts the bytes of every response the page receives from now on. */
function meter(page: Page) {
  const bytes: Bytes = { html: 0, css: 0, js: 0, wasm: 0, other: 0, requests: 0 };
  const pending: Promise<void>[] = [];
  const failures: unknown[] = [];
  page.on('requestfinished', (request) => {
    pending.push(
      request
        .sizes()
        .then((sizes) => {
          const path = new URL(request.url()).pathname;
          const kind = path.endsWith('.wasm')
            ? 'wasm'
            : path.endsWith('.js')
              ? 'js'
              : path.endsWith('.css')
                ? 'css'
                : request.resourceType() === 'document'
                  ? 'html'
                  : 'other';
          bytes[kind] += sizes.responseBodySize;
          bytes.requests += 1;
        })
        // A request that finishes as the test closes its page (a prefetch)
        // cannot be measured any more: not a failure of the page. Any other
        // failure fails the measurement that awaits it.
        .catch((error) => {
          if (!page.isClosed() && !String(error).includes('has been closed')) failures.push(error);
        }),
    );
  });
  return async () => {
    await Promise.all(pending);
    if (failures.length > 0) throw failures[0];
    return { ...bytes, code: bytes.js + bytes.wasm, total: bytes.html + bytes.css + bytes.js + bytes.wasm + bytes.other };
  };
}

const SEARCH_BOX_ONLY = ['/', '/about', '/search?q=python', '/classifiers', '/account/login', '/account/register'];

for (const path of SEARCH_BOX_ONLY) {
  test(`${path}: no code before the search box is used, the whole page within budget`, async ({ page }) => {
    const measured = meter(page);
    await page.goto(path);
    await page.waitForLoadState('networkidle');
    const before = await measured();
    expect(before.code, 'JavaScript and WebAssembly before interaction').toBeLessThanOrEqual(40 * KB);
    expect(before.total, 'the first visit').toBeLessThanOrEqual(150 * KB);
    await wake(page);
    await page.waitForLoadState('networkidle');
    const after = await measured();
    expect(after.code, 'the islands code, once the search box is used').toBeLessThanOrEqual(150 * KB);
    expect(after.code).toBeGreaterThan(0);
  });
}

for (const path of ['/project/flask/', '/project/botocore/']) {
  test(`${path}: interactive within 150 KB`, async ({ page }) => {
    const measured = meter(page);
    await page.goto(path);
    await hydrated(page);
    await page.waitForLoadState('networkidle');
    const bytes = await measured();
    expect(bytes.wasm, 'the bundle was loaded').toBeGreaterThan(0);
    expect(bytes.total, 'everything the page needs to be interactive').toBeLessThanOrEqual(150 * KB);
  });
}

test('islands hydrate alone: the rest of the page stays as the server sent it', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/project/flask/');
  // Everything outside the islands, as served.
  const outside = () =>
    page.evaluate(() => {
      const copy = document.querySelector('main')!.cloneNode(true) as HTMLElement;
      copy.querySelectorAll('leptos-island').forEach((island) => island.remove());
      return copy.innerHTML;
    });
  const served = await outside();
  await hydrated(page);
  expect(await outside(), 'server components are not re-rendered in the browser').toBe(served);
  // The copy button and the search box do work.
  await page.locator('.copy-command [data-test-copy]').click();
  await expect(page.locator('.copy-command [data-test-copy]')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('pip install Flask');
  await page.locator('#nav-search').pressSequentially('reque', { delay: 0 });
  await expect(page.locator('#nav-search-suggestions [role="option"]').first()).toHaveAttribute(
    'data-test-suggestion',
    'requests',
  );
});
