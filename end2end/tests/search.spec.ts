import { test, expect, wake } from './fixtures';
import { test as plain, type Page } from '@playwright/test';

/** Types "fla" into the hero box, waits for its answer (flask first), then
 * holds every later suggestion answer back until `release` is called;
 * `requested` settles when the first held request is made. */
async function flaThenHoldAnswers(page: Page) {
  await page.goto('/');
  await wake(page, '#hero-search');
  const input = page.locator('#hero-search');
  await input.pressSequentially('fla', { delay: 0 });
  const first = page.locator('#hero-search-suggestions [role="option"]').first();
  await expect(first).toHaveAttribute('data-test-suggestion', 'flask');
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let asked!: () => void;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  await page.route('**/api/suggest*', async (route) => {
    asked();
    await held;
    await route.continue();
  });
  return { input, first, requested, release };
}

test('typing in the hero box suggests projects; arrows and Enter open one', async ({ page }) => {
  await page.goto('/');
  await wake(page, '#hero-search');
  const input = page.locator('#hero-search');
  await expect(input).toHaveAttribute('role', 'combobox');
  await expect(input).toHaveAttribute('aria-expanded', 'false');
  await input.pressSequentially('flas', { delay: 30 });
  const listbox = page.locator('#hero-search-suggestions');
  await expect(listbox).toBeVisible();
  await expect(listbox).toHaveAttribute('role', 'listbox');
  await expect(input).toHaveAttribute('aria-expanded', 'true');
  const first = listbox.locator('[role="option"]').first();
  await expect(first).toHaveAttribute('data-test-suggestion', 'flask');

  await input.press('ArrowDown');
  await expect(first).toHaveAttribute('aria-selected', 'true');
  await expect(input).toHaveAttribute('aria-activedescendant', 'hero-search-option-0');
  await input.press('Enter');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
  await expect(page.locator('[data-test-project-title]')).toContainText('Flask');
});

test('leaving the page with a suggestion request in flight is harmless', async ({ page }) => {
  // The next answer is held back until the page that asked has gone.
  const { input, requested, release } = await flaThenHoldAnswers(page);
  await input.press('s');
  await requested;
  await input.press('ArrowDown');
  await input.press('Enter');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
  // Leaving is a full page load: the late answer reaches nothing.
  release();
  await page.waitForTimeout(200);
  await expect(page.locator('[data-test-project-title]')).toContainText('Flask');
  // The console fixture fails the test on any panic.
});

test('leaving the page before the typing pause ends is harmless', async ({ page }) => {
  await page.goto('/');
  await wake(page, '#hero-search');
  const input = page.locator('#hero-search');
  await input.pressSequentially('fla', { delay: 0 });
  // The answer for "fla" itself (an earlier one, for "f", may show first).
  await expect(page.locator('#hero-search-suggestions [role="option"]').first()).toHaveAttribute(
    'data-test-suggestion',
    'flask',
  );
  // The debounce timer for "flas" is still pending when the page changes.
  await input.press('s');
  await input.press('ArrowDown');
  await input.press('Enter');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
  await page.waitForTimeout(400);
  await expect(page.locator('[data-test-project-title]')).toContainText('Flask');
});

test('a late answer keeps the highlighted suggestion when it still lists it', async ({ page }) => {
  // The answer for "flas" arrives only after the visitor chose "flask".
  const { input, first, requested, release } = await flaThenHoldAnswers(page);
  await input.press('s');
  await requested;
  await input.press('ArrowDown');
  await expect(first).toHaveAttribute('aria-selected', 'true');
  release();
  // The page has applied the late answer; the choice is still there.
  await expect(page.locator('#hero-search-suggestions')).toHaveAttribute('data-test-answer-for', 'flas');
  await expect(page.locator('#hero-search-suggestions [aria-selected="true"]')).toHaveAttribute(
    'data-test-suggestion',
    'flask',
  );
  await expect(input).toHaveAttribute('aria-activedescendant', /^hero-search-option-\d+$/);
  await input.press('Enter');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
});

test('Escape closes the suggestions and Enter then searches', async ({ page }) => {
  await page.goto('/');
  await wake(page, '#hero-search');
  const input = page.locator('#hero-search');
  await input.pressSequentially('requests', { delay: 20 });
  await expect(page.locator('#hero-search-suggestions')).toBeVisible();
  await input.press('Escape');
  await expect(page.locator('#hero-search-suggestions')).toBeHidden();
  await input.press('Enter');
  await expect(page).toHaveURL(/\/search\?q=requests$/);
  await expect(page.locator('[data-test-hit]').first()).toHaveAttribute('data-test-hit', 'requests');
});

test('the newest answer wins when typing fast', async ({ page }) => {
  await page.goto('/');
  await wake(page);
  const input = page.locator('#nav-search');
  await input.pressSequentially('six', { delay: 0 });
  await input.fill('');
  await input.pressSequentially('pytz', { delay: 0 });
  const options = page.locator('#nav-search-suggestions [role="option"]');
  await expect(options.first()).toHaveAttribute('data-test-suggestion', 'pytz');
  await page.waitForTimeout(500);
  await expect(options.first()).toHaveAttribute('data-test-suggestion', 'pytz');
});

test('results page: filters, sorting and pages', async ({ page }) => {
  await page.goto('/search?q=python');
  const total = Number(await page.locator('[data-test-total]').getAttribute('data-test-total'));
  expect(total).toBeGreaterThan(20);
  await page.locator('[data-test-facet]').first().click();
  await expect(page.locator('[data-test-active-filter]')).toHaveCount(1);
  const filtered = Number(await page.locator('[data-test-total]').getAttribute('data-test-total'));
  expect(filtered).toBeLessThanOrEqual(total);
  await page.locator('[data-test-sort="-created"]').click();
  await expect(page).toHaveURL(/o=-created/);
});

plain.describe('without JavaScript', () => {
  plain.use({ javaScriptEnabled: false });
  plain('search and browse still work', async ({ page }) => {
    await page.goto('/');
    await page.locator('#hero-search').fill('flask');
    await page.locator('.hero button[type="submit"]').click();
    await expect(page).toHaveURL(/\/search\?q=flask/);
    await expect(page.locator('[data-test-hit]').first()).toHaveAttribute('data-test-hit', 'flask');
    await page.goto('/search');
    await expect(page.locator('[data-test-total]')).toHaveAttribute('data-test-total', '96');
    await page.locator('[data-test-page="next"]').click();
    await expect(page).toHaveURL(/page=2/);
    await expect(page.locator('[data-test-hit]')).toHaveCount(20);
    await page.goto('/classifiers/');
    await page.locator('[data-test-classifier]').first().click();
    await expect(page.locator('[data-test-active-filter]')).toHaveCount(1);
  });
});
