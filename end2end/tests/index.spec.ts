import { test, expect, hydrated } from './fixtures';

test('home page shows the index counts and new releases', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Find, install and publish Python packages');
  await expect(page.locator('[data-test-stat="projects"] .stat-value')).toHaveText('96');
  await expect(page.locator('[data-test-stat="releases"] .stat-value')).toHaveText('5,547');
  await expect(page.locator('[data-test-stat="files"] .stat-value')).toHaveText('19,160');
  await expect(page.locator('[data-test-new-release]')).toHaveCount(10);
  await expect(page.getByRole('combobox', { name: 'Search projects' }).first()).toBeVisible();
});

test('a page whose only island is the search box loads no code until the box is used', async ({ page }) => {
  const code: string[] = [];
  page.on('request', (r) => {
    if (/\.(js|wasm)$/.test(new URL(r.url()).pathname)) code.push(new URL(r.url()).pathname);
  });
  await page.goto('/');
  await page.waitForLoadState('networkidle');
  expect(code, 'nothing but the page, its stylesheet and icon').toEqual([]);
  await expect(page.locator('body[data-hydrated]')).toHaveCount(0);
  // Typed at once, before the code has arrived: the suggestions still come.
  await page.locator('#hero-search').pressSequentially('flas', { delay: 0 });
  await expect(page.locator('#hero-search-suggestions [role="option"]').first()).toHaveAttribute(
    'data-test-suggestion',
    'flask',
  );
  expect(code.filter((p) => p.endsWith('.wasm'))).toHaveLength(1);
  expect(code.filter((p) => p.endsWith('.js'))).toHaveLength(1);
});

test('clicking a new release opens its project page', async ({ page }) => {
  await page.goto('/');
  const first = page.locator('[data-test-new-release]').first();
  const slug = await first.getAttribute('data-test-new-release');
  await first.click();
  await expect(page).toHaveURL(new RegExp(`/project/${slug}/$`));
  await expect(page.locator('[data-test-project-title]')).toBeVisible();
  await expect(page.locator('[data-test-summary]')).toBeVisible();
  await expect(page.locator('[data-test-release-list] li').first()).toBeAttached();
  // A project page has copy buttons: its islands' code loads at once.
  await hydrated(page);
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
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not found');
  await expect(page.locator('[data-test-error="404"]')).toBeVisible();
});

test('navigating back and forth works', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'About', exact: true }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('About cheeseshop');
  await page.goBack();
  await expect(page.locator('[data-test-stat="projects"] .stat-value')).toHaveText('96');
});
