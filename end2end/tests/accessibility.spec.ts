import AxeBuilder from '@axe-core/playwright';
import { test, expect, wake } from './fixtures';
import { Page } from '@playwright/test';

// Every page a person reads passes axe-core's WCAG 2 A and AA rules (2.0
// and 2.1), with the islands' code run, with no violation of any impact.
// The Simple API and the feeds are for machines (pip, uv, feed readers).
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function audit(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  const found = violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
  expect(found, `${what}: WCAG 2 A/AA violations`).toEqual([]);
}

const PAGES: [string, string][] = [
  ['home', '/'],
  ['about', '/about'],
  ['search results', '/search?q=flask'],
  ['search with filters and facets', '/search?q=http&c=Programming+Language+%3A%3A+Python&o=-created'],
  ['browse', '/search'],
  ['no results', '/search?q=zzzzzzzz'],
  ['classifiers', '/classifiers'],
  ['project', '/project/flask/'],
  ['big project', '/project/botocore/'],
  ['project with wide tables and code', '/project/psutil/'],
  ['project version', '/project/requests/2.9.1/'],
  ['log in', '/account/login'],
  ['register', '/account/register'],
  ['not found', '/project/no-such-project-anywhere/'],
];

for (const [what, path] of PAGES) {
  test(`${what} page has no WCAG 2 A/AA violation`, async ({ page }) => {
    await page.goto(path);
    await wake(page);
    await audit(page, what);
  });
}

test('the account page and a user page have no WCAG 2 A/AA violation', async ({ page }) => {
  const username = `a${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  await page.goto('/account/register');
  await page.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('E-mail address').fill(`${username}@example.org`);
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
  await page.getByLabel('Confirm password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await wake(page);
  await audit(page, 'account');
  await page.goto(`/user/${username}`);
  await wake(page);
  await audit(page, 'user');
});

test('a form showing its errors has no WCAG 2 A/AA violation', async ({ page }) => {
  await page.goto('/account/register');
  await page.getByLabel('Username', { exact: true }).fill('x');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('[data-test-field-error]').first()).toBeVisible();
  await wake(page);
  await audit(page, 'register with errors');
});
