import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// The journey through three instances behind nginx (scripts/cluster.sh:
// PostgreSQL, an S3-compatible store, nginx round-robin), apart from the
// single-server suite so that each has the server it needs.
const PORT = Number(process.env.CLUSTER_PORT ?? 3200);

export default defineConfig({
  ...base,
  testDir: './cluster',
  workers: 1,
  timeout: 90_000,
  use: { ...base.use, baseURL: `http://127.0.0.1:${PORT}` },
  webServer: {
    command: 'bash ../scripts/cluster.sh 3',
    url: `http://127.0.0.1:${PORT}/_health`,
    env: { ADDR: `127.0.0.1:${PORT}` },
    timeout: 180_000,
    reuseExistingServer: false,
    // TERM lets the script stop PostgreSQL, the store and nginx, which run
    // outside its process group; Playwright's default is KILL.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
