import { test as base, expect, Page } from '@playwright/test';

/** Every page test collects browser console errors/warnings and page errors; none are allowed. */
export const test = base.extend<{ consoleProblems: string[] }>({
  consoleProblems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() !== 'error' && msg.type() !== 'warning') return;
        const url = msg.location().url;
        // A page that is itself a 404 (asserted by the test) makes Chromium log
        // its status; failures of any other resource of ours still count.
        // Third-party images in descriptions (badges) cannot load on an
        // offline test machine: not our failure.
        if (msg.text().startsWith('Failed to load resource')) {
          if (url === page.url()) return;
          if (url && new URL(url).origin !== new URL(page.url()).origin) return;
        }
        problems.push(`${msg.type()}: ${msg.text()} (${url})`);
      });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      await use(problems);
      expect(problems, 'browser console is clean').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Waits until the islands' code has run on the page (`src/islands.js`). */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/**
 * Turns to a search box, as a visitor does: on a page whose only island is
 * the search box, that is what loads the islands' code. Waits until it ran.
 */
export async function wake(page: Page, searchBox = '#nav-search') {
  await page.locator(searchBox).focus();
  await hydrated(page);
}
