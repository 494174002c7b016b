import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Browser, Page } from '@playwright/test';
import { test, expect } from './fixtures';

// A maintainer's journeys (issue 17), in the browser, with and without
// JavaScript: publish two releases, yank and un-yank one, invite a
// collaborator who accepts in a second browser, delete a release by typing
// its version, archive the project. Every manage page passes axe-core.

const PASSWORD = 'correct horse battery staple';
const TOOLS = process.env.CHEESESHOP_PYTOOLS ?? resolve(__dirname, '../../.tools/python');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function audit(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  const found = violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(found, `${what}: WCAG 2 A/AA violations`).toEqual([]);
}

/** A real wheel of `name` `version`, made by Python's zipfile. */
function buildWheel(dir: string, name: string, version: string): string {
  const script = `
import sys, zipfile
dir, name, version = sys.argv[1:4]
dist = name.replace('-', '_')
info = f'{dist}-{version}.dist-info'
path = f'{dir}/{dist}-{version}-py3-none-any.whl'
with zipfile.ZipFile(path, 'w') as z:
    z.writestr(f'{dist}.py', f'VERSION = "{version}"\\n')
    z.writestr(f'{info}/METADATA', f'Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\nSummary: Managed in the browser\\n')
    z.writestr(f'{info}/WHEEL', 'Wheel-Version: 1.0\\nGenerator: cheeseshop-e2e\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
    z.writestr(f'{info}/RECORD', '')
print(path)
`;
  return execFileSync('python3', ['-c', script, dir, name, version], { encoding: 'utf8' }).trim();
}

async function register(page: Page, username: string) {
  await page.goto('/account/register');
  await page.getByLabel('Name', { exact: true }).fill(`Person ${username}`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('E-mail address').fill(`${username}@example.org`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/account$/);
}

function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function journey(page: Page, browser: Browser, javaScriptEnabled: boolean, baseURL: string) {
  // axe-core runs in the page: only where JavaScript is on (the run with it
  // audits the same pages).
  const check = javaScriptEnabled ? audit : async (_page: Page, _what: string) => {};
  const owner = unique('o');
  const project = `managed-${owner}`;
  await register(page, owner);
  await page.getByLabel('Token name').fill('publishing');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.locator('[data-test-new-token-value]').textContent())!.trim();
  const dir = mkdtempSync(join(tmpdir(), 'cheeseshop-manage-'));
  try {
    for (const version of ['1.0.0', '2.0.0']) {
      const wheel = buildWheel(dir, project, version);
      execFileSync(join(TOOLS, 'bin/twine'), ['upload', '--repository-url', `${baseURL}/legacy/`, '-u', '__token__', '-p', token, '--disable-progress-bar', wheel], {
        env: { ...process.env, TWINE_NON_INTERACTIVE: '1' },
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // From the account page to the manage page.
  await page.goto('/account');
  await page.getByRole('link', { name: `Manage ${project}` }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(project);
  await expect(page.locator('[data-test-role]')).toHaveText('Owner');
  await check(page, 'manage project');

  // Yank 2.0.0 with a reason, see it on the version page, un-yank it.
  const release2 = page.locator('[data-test-release="2.0.0"]');
  await page.getByLabel('Reason for yanking 2.0.0').fill('Broken build');
  await page.getByRole('button', { name: 'Yank 2.0.0' }).click();
  await expect(release2.locator('[data-test-yanked]')).toBeVisible();
  await expect(release2).toContainText('Broken build');
  await page.goto(`/project/${project}/2.0.0/`);
  await expect(page.locator('[data-test-yanked]')).toContainText('Broken build');
  await page.goto(`/manage/project/${project}/`);
  await page.getByRole('button', { name: 'Un-yank 2.0.0' }).click();
  await expect(page.locator('[data-test-release="2.0.0"] [data-test-yanked]')).toHaveCount(0);

  // Invite a collaborator, who accepts in a browser of their own.
  const helper = unique('m');
  const other = await browser.newContext({ javaScriptEnabled });
  const helperPage = await other.newPage();
  await register(helperPage, helper);
  await page.getByLabel('Username').fill(helper);
  await page.getByLabel('Role').selectOption('Maintainer');
  await page.getByRole('button', { name: 'Send the invitation' }).click();
  await expect(page.locator(`[data-test-invitation="${helper}"]`)).toBeVisible();
  await helperPage.goto('/account');
  await expect(helperPage.locator(`[data-test-invitation-to="${project}"]`)).toContainText(owner);
  await helperPage.getByRole('button', { name: `Accept the invitation to ${project}` }).click();
  await expect(helperPage.locator(`[data-test-invitation-to="${project}"]`)).toHaveCount(0);
  await helperPage.goto(`/manage/project/${project}/`);
  await expect(helperPage.locator('[data-test-role]')).toHaveText('Maintainer');
  await expect(helperPage.getByRole('button', { name: 'Delete the release' })).toHaveCount(0);
  await expect(helperPage.getByRole('button', { name: `Leave ${project}` })).toBeVisible();
  await other.close();
  await page.goto(`/manage/project/${project}/`);
  await expect(page.locator(`[data-test-collaborator="${helper}"] [data-test-collaborator-role]`)).toHaveText('Maintainer');

  // Delete 1.0.0: the version typed twice; a mistyped confirmation changes nothing.
  await page.getByLabel('Version to delete').fill('1.0.0');
  await page.getByLabel('Type the version again to confirm').fill('1.0');
  await page.getByRole('button', { name: 'Delete the release' }).click();
  await expect(page.locator('[data-test-form-error]')).toContainText('type the version');
  await page.goto(`/manage/project/${project}/`);
  await expect(page.locator('[data-test-release="1.0.0"]')).toHaveCount(1);
  await page.getByLabel('Version to delete').fill('1.0.0');
  await page.getByLabel('Type the version again to confirm').fill('1.0.0');
  await page.getByRole('button', { name: 'Delete the release' }).click();
  await expect(page.locator('[data-test-release="1.0.0"]')).toHaveCount(0);
  await expect(page.locator('[data-test-release="2.0.0"]')).toHaveCount(1);

  // A release's files.
  await page.getByRole('link', { name: /files? of 2\.0\.0/ }).click();
  await expect(page.locator('[data-test-file]')).toHaveCount(1);
  await check(page, 'manage release');

  // Archive: the project page says so.
  await page.goto(`/manage/project/${project}/`);
  await page.getByLabel('Archived: no new uploads; releases stay installable').check();
  await page.getByLabel('Reason (optional, shown to installers)').fill('Superseded by cheddar');
  await page.getByRole('button', { name: 'Change the status' }).click();
  await expect(page.locator('[data-test-status]')).toHaveText('Archived');
  await page.goto(`/project/${project}/`);
  await expect(page.locator('[data-test-project-status="archived"]')).toContainText('Superseded by cheddar');
  // The security history has it all.
  await page.goto(`/manage/project/${project}/`);
  const history = page.locator('[data-test-events]');
  for (const what of ['Status changed', 'Release deleted', 'Collaborator invited', 'Invitation accepted', 'Release un-yanked', 'Release yanked', 'File uploaded']) {
    await expect(history.locator(`[data-test-event="${what}"]`).first()).toBeVisible();
  }
}

test('a maintainer yanks, invites, deletes and archives, with JavaScript', async ({ page, browser, baseURL }) => {
  await journey(page, browser, true, baseURL!);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });
  test('a maintainer yanks, invites, deletes and archives, without JavaScript', async ({ page, browser, baseURL }) => {
    await journey(page, browser, false, baseURL!);
  });
});

test('the admin area has no WCAG 2 A/AA violation', async ({ page }) => {
  // serve.sh makes the administrator `admin` from the command line.
  await page.goto('/account/login');
  await page.getByLabel('Username or e-mail address').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await page.getByRole('link', { name: 'Administration' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Administration');
  await page.getByLabel('Find accounts and projects').fill('flask');
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.locator('[data-test-admin-project="flask"]')).toBeVisible();
  await audit(page, 'admin');
});
