import { test, expect, hydrated } from './fixtures';

test('home page shows the index counts and new releases', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Find, install and publish Python packages');
  await expect(page.locator('[data-test-stat="projects"] .stat-value')).toHaveText('96');
  await expect(page.locator('[data-test-stat="releases"] .stat-value')).toHaveText('5,547');
  await expect(page.locator('[data-test-stat="files"] .stat-value')).toHaveText('19,160');
  await expect(page.locator('[data-test-new-release]')).toHaveCount(10);
  await expect(page.getByRole('combobox', { name: 'Search projects' }).first()).toBeVisible();
});

test('clicking a new release opens its project page client-side', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  // A full page load would wipe this marker; client-side navigation keeps it.
  await page.evaluate(() => ((window as any).__noReload = true));
  const first = page.locator('[data-test-new-release]').first();
  const slug = await first.getAttribute('data-test-new-release');
  const fetched = page.waitForResponse((r) => r.url().includes('/api/project') && r.status() === 200);
  await first.click();
  await fetched;
  await expect(page).toHaveURL(new RegExp(`/project/${slug}/$`));
  await expect(page.locator('[data-test-project-title]')).toBeVisible();
  await expect(page.locator('[data-test-summary]')).toBeVisible();
  await expect(page.locator('[data-test-release-list] li').first()).toBeAttached();
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
});

test('project page shows details, history and a copyable pip command', async ({ page }) => {
  await page.goto('/project/flask/');
  await hydrated(page);
  await expect(page).toHaveTitle('Flask 1.0.2 · cheeseshop');
  await expect(page.locator('[data-test-pip-command]')).toHaveText('pip install Flask');
  await expect(page.locator('[data-test-version]')).toHaveCount(28);
  await expect(page.locator('[data-test-version]').first()).toHaveAttribute('data-test-version', '1.0.2');
  await page.locator('.copy-command [data-test-copy]').click();
  await expect(page.locator('.copy-command [data-test-copy]')).toHaveText('Copied');
});

test('other spellings of a project land on the canonical URL', async ({ page }) => {
  await page.goto('/project/Flask');
  await expect(page).toHaveURL(/\/project\/flask\/$/);
  await hydrated(page);
  await expect(page.locator('[data-test-project-title]')).toContainText('Flask');
});

test('unknown projects get a real 404 page', async ({ page }) => {
  const response = await page.goto('/project/this-project-does-not-exist/');
  expect(response?.status()).toBe(404);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not found');
  await expect(page.locator('[data-test-error="404"]')).toBeVisible();
});

test('navigating back and forth after hydration works', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('link', { name: 'About', exact: true }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('About cheeseshop');
  await page.goBack();
  await expect(page.locator('[data-test-stat="projects"] .stat-value')).toHaveText('96');
});
