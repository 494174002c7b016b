import { test, expect, hydrated } from './fixtures';
import { test as plain } from '@playwright/test';

test('tabs switch between description, history and files', async ({ page }) => {
  await page.goto('/project/flask/');
  await hydrated(page);
  const description = page.locator('#description');
  const history = page.locator('#history');
  const files = page.locator('#files');
  await expect(description).toBeVisible();
  await expect(history).toBeHidden();

  await page.locator('[data-test-tab="history"]').click();
  await expect(page).toHaveURL(/#history$/);
  await expect(history).toBeVisible();
  await expect(description).toBeHidden();
  await expect(history.locator('[data-test-version]')).toHaveCount(28);

  await page.locator('[data-test-tab="files"]').click();
  await expect(files).toBeVisible();
  await expect(files.locator('[data-test-file="Flask-1.0.2-py2.py3-none-any.whl"]')).toBeVisible();

  await page.locator('[data-test-tab="description"]').click();
  await expect(description).toBeVisible();
  await expect(description.locator('h1')).toHaveText('Flask');
});

test('a version from the history opens its own page', async ({ page }) => {
  await page.goto('/project/flask/#history');
  await page.locator('[data-test-version="0.12"] a').click();
  await expect(page).toHaveURL(/\/project\/flask\/0\.12\/$/);
  await expect(page.locator('[data-test-newer-version]')).toHaveText('Newer version available (1.0.2)');
  await expect(page.locator('[data-test-pip-command]')).toHaveText('pip install Flask==0.12');
});

test('the release timeline chart is visible', async ({ page }) => {
  await page.goto('/project/flask/');
  await hydrated(page);
  const chart = page.locator('[data-test-timeline] svg');
  await expect(chart).toBeVisible();
  await expect(chart.locator('circle.dot')).toHaveCount(28);
  const box = await chart.boundingBox();
  expect(box && box.width > 300 && box.height > 30).toBeTruthy();
});

test('the pip command and a digest copy to the clipboard', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/project/flask/');
  await hydrated(page);
  await page.locator('.copy-command [data-test-copy]').click();
  await expect(page.locator('.copy-command [data-test-copy]')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('pip install Flask');

  await page.locator('[data-test-tab="files"]').click();
  const wheel = page.locator('[data-test-file="Flask-1.0.2-py2.py3-none-any.whl"]');
  await wheel.locator('summary').click();
  await wheel.locator('[data-test-copy]').first().click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
    'a080b744b7e345ccfcbc77954861cb05b3c63786e93f2b3875e0913d44b43f05',
  );
});

plain.describe('without JavaScript', () => {
  plain.use({ javaScriptEnabled: false });
  plain('tabs are anchors that still work', async ({ page }) => {
    await page.goto('/project/flask/');
    await page.locator('[data-test-tab="files"]').click();
    await expect(page.locator('#files')).toBeVisible();
    await expect(page.locator('#description')).toBeHidden();
    await page.goto('/project/flask/#history');
    await expect(page.locator('#history [data-test-version]')).toHaveCount(28);
    await expect(page.locator('[data-test-timeline] svg')).toBeVisible();
  });
});
