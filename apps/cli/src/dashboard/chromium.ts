// Headless Debian Chromium for the dashboard's browser tests (the unit test and the e2e
// scenario): playwright-core drives the system binary, never a downloaded browser. Not exported
// from index.ts: playwright-core is a dev dependency.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM_PATH);

export interface HeadlessChromium {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<HeadlessChromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'weft-dashboard-chromium-'));
  // A fresh profile each time (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What the page draws, read from its SVG: nodes with their fill, edges with their state. */
export interface DrawnGraph {
  readonly nodes: { id: string; mode: string; fill: string | null }[];
  readonly edges: {
    id: string;
    source: string;
    target: string;
    denied: boolean;
    mtls: string;
    label: string;
    stroke: string;
  }[];
}

// Runs in the page (a string: this package compiles without the DOM library).
const READ_DRAWN_GRAPH = `(() => {
  const nodes = [...document.querySelectorAll('#nodes g.node')].map((g) => ({
    id: g.getAttribute('data-id') ?? '',
    mode: g.getAttribute('data-mode') ?? '',
    fill: g.querySelector('circle')?.getAttribute('fill') ?? null,
  }));
  const edges = [...document.querySelectorAll('#edges g.edge')].map((g) => ({
    id: g.getAttribute('data-id') ?? '',
    source: g.getAttribute('data-source') ?? '',
    target: g.getAttribute('data-target') ?? '',
    denied: g.getAttribute('data-denied') === 'true',
    mtls: g.getAttribute('data-mtls') ?? '',
    label: g.querySelector('text')?.textContent ?? '',
    stroke: getComputedStyle(g.querySelector('path')).stroke,
  }));
  return { nodes, edges };
})()`;

export async function readDrawnGraph(page: Page): Promise<DrawnGraph> {
  return (await page.evaluate(READ_DRAWN_GRAPH)) as DrawnGraph;
}
