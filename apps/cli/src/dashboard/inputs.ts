// Where the dashboard learns the mesh's addresses: the local demo's folder (.weft/local), with
// endpoints.json (weftd, nodes', waypoints' and sidecars' metrics URLs) and tokens.txt (a token
// of the weft-system namespace reads weftd's /debug endpoints).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstSystemToken } from '../mesh.ts';
import type { DashboardEndpoints } from './server.ts';

export interface DashboardInputs {
  readonly weftdAdmin: string;
  readonly token: string;
  readonly endpoints: DashboardEndpoints;
}

export async function readDashboardInputs(
  workDir: string,
): Promise<{ ok: true; value: DashboardInputs } | { ok: false; error: string }> {
  let endpoints: DashboardEndpoints & { weftd?: { admin?: string } };
  let tokens: string;
  const endpointsFile = join(workDir, 'endpoints.json');
  try {
    endpoints = JSON.parse(await readFile(endpointsFile, 'utf8')) as typeof endpoints;
  } catch (err) {
    return {
      ok: false,
      error: `cannot read ${endpointsFile} (is the local mesh running?): ${(err as Error).message}`,
    };
  }
  const tokensFile = join(workDir, 'tokens.txt');
  try {
    tokens = await readFile(tokensFile, 'utf8');
  } catch (err) {
    return { ok: false, error: `cannot read ${tokensFile}: ${(err as Error).message}` };
  }
  const weftdAdmin = endpoints.weftd?.admin;
  if (typeof weftdAdmin !== 'string')
    return { ok: false, error: `${endpointsFile} names no weftd admin address` };
  const token = firstSystemToken(tokens);
  if (token === undefined) return { ok: false, error: `${tokensFile} holds no weft-system token` };
  return { ok: true, value: { weftdAdmin, token, endpoints } };
}
