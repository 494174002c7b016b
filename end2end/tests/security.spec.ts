import { test, expect, hydrated, wake } from './fixtures';
import { test as plain } from '@playwright/test';

/** Records every Content-Security-Policy violation the page reports. */
async function watchViolations(page: import('@playwright/test').Page) {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return () => page.evaluate(() => (window as any).__violations as string[]);
}

test('pages hydrate and suggestions work under the Content-Security-Policy', async ({ page }) => {
  const violations = await watchViolations(page);
  const response = await page.goto('/');
  const csp = response!.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  await wake(page, '#hero-search');

  // Suggestions are fetched and shown by the WASM app.
  const input = page.locator('#hero-search');
  await input.pressSequentially('flas', { delay: 30 });
  await expect(page.locator('#hero-search-suggestions [role="option"]').first()).toHaveAttribute(
    'data-test-suggestion',
    'flask',
  );
  await input.press('ArrowDown');
  await input.press('Enter');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
  await expect(page.locator('[data-test-description]')).toBeVisible();

  // A page loaded directly (a cached copy, the second time) hydrates too.
  for (let i = 0; i < 2; i++) {
    const again = await page.goto('/project/requests/');
    expect(again!.headers()['content-security-policy']).toContain("'nonce-");
    await hydrated(page);
  }
  expect(await violations()).toEqual([]);
});

plain('a script injected into a page does not run', async ({ page }) => {
  await page.goto('/about');
  await wake(page);
  const ran = await page.evaluate(async () => {
    (window as any).__injected = false;
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true';
    document.body.appendChild(script);
    const handler = document.createElement('img');
    handler.setAttribute('src', 'data:,');
    handler.setAttribute('onerror', 'window.__injected = true');
    document.body.appendChild(handler);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return (window as any).__injected;
  });
  expect(ran).toBe(false);
});

plain('no other site may frame a page', async ({ request }) => {
  for (const path of ['/', '/account/login', '/simple/flask/']) {
    const response = await request.get(path);
    expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.headers()['x-content-type-options']).toBe('nosniff');
  }
});
