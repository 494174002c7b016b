import { test, expect } from '@playwright/test';

test.use({ javaScriptEnabled: false });

test('pages are fully server-rendered without JavaScript', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('[data-test-stat="projects"] .stat-value')).toHaveText('96');
  await expect(page.locator('[data-test-new-release]')).toHaveCount(10);

  await page.locator('[data-test-new-release]').first().click();
  await expect(page).toHaveURL(/\/project\/[a-z0-9-]+\/$/);
  await expect(page.locator('[data-test-project-title]')).toBeVisible();

  await page.goto('/project/flask/');
  await expect(page.locator('[data-test-version]')).toHaveCount(28);
  await expect(page.locator('[data-test-description]')).toContainText('Flask');

  await page.goto('/search?q=flask');
  await expect(page.locator('[data-test-hit]').first()).toHaveAttribute('data-test-hit', 'flask');
});
