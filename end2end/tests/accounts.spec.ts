import { test, expect } from './fixtures';
import { test as plain, Page } from '@playwright/test';

const PASSWORD = 'correct horse battery staple';
const unique = () => `u${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

async function fillRegistration(page: Page, username: string, confirm = PASSWORD) {
  await page.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('E-mail address').fill(`${username}@example.org`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(confirm);
}

/** Registers a new user and lands on /account. */
async function registerNewUser(page: Page) {
  const username = unique();
  await page.goto('/account/register');
  await fillRegistration(page, username);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/account$/);
  return username;
}

test('register, see the account, log out, log in (with JavaScript)', async ({ page }) => {
  const username = unique();
  await page.goto('/account/register');
  await fillRegistration(page, username);
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator('[data-test-account-username]')).toHaveText(username);
  await expect(page.locator('[data-test-account-email]')).toHaveText(`${username}@example.org`);
  await expect(page.locator('[data-test-nav-user]')).toHaveText('Ada Lovelace');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('[data-test-nav-login]')).toBeVisible();
  await expect(page.locator('[data-test-nav-user]')).toHaveCount(0);

  await page.locator('[data-test-nav-login]').click();
  await expect(page).toHaveURL(/\/account\/login$/);
  await page.getByLabel('Username or e-mail address').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator('[data-test-account-username]')).toHaveText(username);
  await expect(page.locator('[data-test-nav-user]')).toHaveText('Ada Lovelace');
});

test('form errors appear beside their fields, the values kept', async ({ page }) => {
  const username = unique();
  await page.goto('/account/register');
  await fillRegistration(page, username, 'something else');
  await page.getByRole('button', { name: 'Create account' }).click();
  const error = page.locator('[data-test-field-error="password_confirm"]');
  await expect(error).toHaveText('The two passwords do not match.');
  await expect(page.getByLabel('Confirm password')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Username', { exact: true })).toHaveValue(username);

  await page.goto('/account/login');
  await page.getByLabel('Username or e-mail address').fill('nobody-at-all');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('[data-test-form-error]')).toContainText('do not match an account');
});

plain.describe('without JavaScript', () => {
  plain.use({ javaScriptEnabled: false });

  plain('the register and login forms still work', async ({ page }) => {
    const username = unique();
    await page.goto('/account/register');
    await fillRegistration(page, username, 'a different one');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.locator('[data-test-field-error="password_confirm"]')).toHaveText('The two passwords do not match.');
    await expect(page.getByLabel('Username', { exact: true })).toHaveValue(username);

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.locator('[data-test-account-username]')).toHaveText(username);

    await page.getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.locator('[data-test-nav-login]')).toBeVisible();

    await page.goto('/account/login');
    await page.getByLabel('Username or e-mail address').fill(username);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.locator('[data-test-form-error]')).toContainText('do not match an account');

    await page.getByLabel('Username or e-mail address').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.locator('[data-test-nav-user]')).toHaveText('Ada Lovelace');
  });

  plain('an API token is created, shown once and revoked', async ({ page }) => {
    await registerNewUser(page);

    await page.getByLabel('Token name').fill('build server');
    await page.getByRole('button', { name: 'Create token' }).click();
    // Back on the account page (the redirect may leave an empty query).
    await expect(page).toHaveURL(/\/account\??$/);
    await expect(page.locator('[data-test-new-token-value]')).toHaveText(/^cheeseshop-[0-9a-f]{64}$/);
    await expect(page.locator('[data-test-token="build server"]')).toBeVisible();

    await page.reload();
    await expect(page.locator('[data-test-new-token-value]')).toHaveCount(0);
    await page.getByRole('button', { name: 'Revoke the token build server' }).click();
    await expect(page.locator('[data-test-token="build server"]')).toHaveCount(0);
  });
});

test('create an API token, see it once, revoke it', async ({ page }) => {
  await registerNewUser(page);
  await expect(page.locator('[data-test-no-tokens]')).toBeVisible();

  await page.getByLabel('Token name').fill('laptop');
  await expect(page.getByLabel('Scope')).toHaveValue('');
  await page.getByRole('button', { name: 'Create token' }).click();
  const value = page.locator('[data-test-new-token-value]');
  await expect(value).toHaveText(/^cheeseshop-[0-9a-f]{64}$/);
  await expect(page.locator('[data-test-new-token]')).toContainText('will not be shown again');
  const row = page.locator('[data-test-token="laptop"]');
  await expect(row).toContainText('All your projects');
  await expect(row).toContainText('Never');

  // After a reload the token is listed, its value is gone.
  await page.reload();
  await expect(page.locator('[data-test-token="laptop"]')).toBeVisible();
  await expect(page.locator('[data-test-new-token-value]')).toHaveCount(0);

  await page.getByRole('button', { name: 'Revoke the token laptop' }).click();
  await expect(page.locator('[data-test-token="laptop"]')).toHaveCount(0);
  await expect(page.locator('[data-test-no-tokens]')).toBeVisible();
});
