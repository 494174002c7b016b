import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Page } from '@playwright/test';
import { test, expect, wake } from '../tests/fixtures';

// A user's whole journey through nginx in front of three instances
// (scripts/cluster.sh): register, make a token, publish with twine, then
// browse, search and install from whichever instance answers. Every step
// must be current on every instance right after the write before it.

const PASSWORD = 'correct horse battery staple';
const TOOLS = process.env.CHEESESHOP_PYTOOLS ?? resolve(__dirname, '../../.tools/python');

/** A real wheel of `name` 1.0.0 (a module and its .dist-info), made by Python's zipfile. */
function buildWheel(dir: string, name: string, summary: string): string {
  const script = `
import sys, zipfile
dir, name, summary = sys.argv[1:4]
dist = name.replace('-', '_')
info = f'{dist}-1.0.0.dist-info'
path = f'{dir}/{dist}-1.0.0-py3-none-any.whl'
with zipfile.ZipFile(path, 'w') as z:
    z.writestr(f'{dist}.py', 'VERSION = "1.0.0"\\n')
    z.writestr(f'{info}/METADATA', f'Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0.0\\nSummary: {summary}\\nKeywords: cheese,journey\\n')
    z.writestr(f'{info}/WHEEL', 'Wheel-Version: 1.0\\nGenerator: cheeseshop-e2e\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
    z.writestr(f'{info}/RECORD', '')
print(path)
`;
  return execFileSync('python3', ['-c', script, dir, name, summary], { encoding: 'utf8' }).trim();
}

/** Opens `path` until three different instances have answered it; each answer passes `check`. */
async function onEveryInstance(page: Page, path: string, check: () => Promise<void>) {
  const seen = new Set<string>();
  for (let i = 0; i < 12 && seen.size < 3; i++) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    const upstream = response?.headers()['x-upstream'];
    expect(upstream, 'nginx names the instance').toBeTruthy();
    seen.add(upstream!);
    await check();
  }
  expect([...seen].length, `instances that answered ${path}: ${[...seen]}`).toBe(3);
}

test('register, publish with a token, browse, search and install through the balancer', async ({ page, request, baseURL }) => {
  const user = `j${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const project = `cheese-journey-${user}`;

  // Register through one instance; the session works through all of them.
  await page.goto('/account/register');
  await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('E-mail address').fill(`${user}@example.org`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await onEveryInstance(page, '/account', async () => {
    await expect(page.locator('[data-test-account-username]')).toHaveText(user);
    await expect(page.locator('[data-test-nav-user]')).toHaveText('Grace Hopper');
  });

  // A token for publishing, shown once.
  await page.getByLabel('Token name').fill('release laptop');
  await page.getByRole('button', { name: 'Create token' }).click();
  const value = page.locator('[data-test-new-token-value]');
  await expect(value).toHaveText(/^cheeseshop-[0-9a-f]{64}$/);
  const token = (await value.textContent())!.trim();

  // Publish with twine through the balancer.
  const dir = mkdtempSync(join(tmpdir(), 'cheeseshop-journey-'));
  try {
    const wheel = buildWheel(dir, project, 'Aged through three instances');
    execFileSync(
      join(TOOLS, 'bin/twine'),
      ['upload', '--repository-url', `${baseURL}/legacy/`, '-u', '__token__', '-p', token, '--disable-progress-bar', wheel],
      { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, TWINE_NON_INTERACTIVE: '1' } },
    );
    const digest = createHash('sha256').update(readFileSync(wheel)).digest('hex');

    // Browse: the project page is current on every instance at once.
    await onEveryInstance(page, `/project/${project}/`, async () => {
      await expect(page.locator('[data-test-project-title]')).toContainText(project);
      await expect(page.locator('[data-test-pip-command]')).toHaveText(`pip install ${project}`);
      await expect(page.locator('[data-test-version]')).toHaveCount(1);
    });
    // The home page lists it among the new releases.
    await page.goto('/');
    await expect(page.locator(`[data-test-new-release="${project}"]`)).toHaveCount(1);

    // Search from the home page's box finds it (its suggestions' code too).
    await wake(page, '#hero-search');
    await page.locator('#hero-search').fill('aged through three instances');
    await page.locator('#hero-search').press('Enter');
    await expect(page).toHaveURL(/\/search\?q=/);
    await expect(page.locator('[data-test-hit]').first()).toHaveAttribute('data-test-hit', project);

    // Install: the Simple API links the file, which downloads from the store.
    const simple = await request.get(`/simple/${project}/`);
    expect(simple.status()).toBe(200);
    const html = await simple.text();
    const href = html.match(/href="([^"]+\.whl)#sha256=([0-9a-f]{64})"/);
    expect(href, html).not.toBeNull();
    expect(href![2]).toBe(digest);
    const file = await request.get(new URL(href![1], `${baseURL}/simple/${project}/`).toString());
    expect(file.status()).toBe(200);
    expect(createHash('sha256').update(await file.body()).digest('hex')).toBe(digest);
    execFileSync(join(TOOLS, 'bin/python'), ['-m', 'venv', join(dir, 'venv')]);
    execFileSync(
      join(dir, 'venv/bin/pip'),
      ['install', '--quiet', '--disable-pip-version-check', '--no-cache-dir', '--index-url', `${baseURL}/simple/`, project],
      { stdio: 'pipe', env: { ...process.env, PIP_CONFIG_FILE: '/dev/null' } },
    );
    const module = project.replace(/-/g, '_');
    expect(execFileSync(join(dir, 'venv/bin/python'), ['-c', `import ${module}; print(${module}.VERSION)`], { encoding: 'utf8' }).trim()).toBe(
      '1.0.0',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
