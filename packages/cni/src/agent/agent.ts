// The node agent's composition root: createNodeAgent(config, deps) -> { close() }. It serves the
// CNI plugin, talks to ztunnel, watches the manifests folder and keeps the pod records. Every
// change to a pod (CNI request, manifest change, restart reconcile) runs through one queue, so
// there is one writer of the records and of the rules.

import { existsSync, type FSWatcher, watch as fsWatch } from 'node:fs';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { createRegistry, type Logger, type MetricsRegistry, metricsHandler } from '@weft/telemetry';
import {
  type AddRequest,
  API_PATHS,
  type CheckRequest,
  type DelRequest,
  decodeAddRequest,
  decodeCheckRequest,
  decodeDelRequest,
  MAX_BODY_BYTES,
} from '../api/messages.ts';
import type { RuleApplier } from '../apply/applier.ts';
import { inspectRules, syncRules } from '../apply/apply.ts';
import type { PodRef } from '../protocol/messages.ts';
import { FAMILIES, type Family } from '../rules/index.ts';
import { type Desired, desiredFor, ruleSetsFor, sameCapture } from './decide.ts';
import { EMPTY_INVENTORY, type Inventory, loadInventory, scanManifests } from './inventory.ts';
import { type AgentMetrics, agentMetrics, type RefusalReason } from './metrics.ts';
import { loadState, type PodRecord, saveState } from './state.ts';
import { ZtunnelError, ZtunnelServer } from './ztunnel-server.ts';

export interface NodeAgentConfig {
  readonly node: string;
  readonly manifestsDir: string;
  readonly cniSocket: string;
  readonly ztunnelSocket: string;
  readonly stateDir: string;
  /** host:port for /metrics; absent: no metrics listener. */
  readonly metricsAddress?: { readonly host: string; readonly port: number };
  /** Extra node addresses whose traffic to pods is not captured (besides each pod's gateway). */
  readonly probeSources?: readonly string[];
  /** Families to install rules for (default IPv4 and IPv6). */
  readonly families?: readonly Family[];
  /** Full rescan of the manifests folder, ms (default 1000); fs events trigger one sooner. */
  readonly rescanIntervalMs?: number;
  readonly ackTimeoutMs?: number;
}

export interface NodeAgentDeps {
  readonly applier: RuleApplier;
  readonly logger: Logger;
  readonly registry?: MetricsRegistry;
  readonly netnsExists?: (path: string) => boolean;
}

export interface NodeAgent {
  readonly metrics: AgentMetrics;
  readonly registry: MetricsRegistry;
  /** The bound metrics address, when one was asked for. */
  readonly metricsAddress?: { readonly host: string; readonly port: number };
  /** The pod records, for tests and status. */
  pods(): readonly PodRecord[];
  /** Re-reads the manifests and brings every known pod to what they say (also runs periodically). */
  resync(): Promise<void>;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  constructor(status: number, message: string, retryable = false) {
    super(message);
    this.status = status;
    this.retryable = retryable;
  }
}

const podRef = (r: { namespace: string; name: string; uid?: string }): PodRef =>
  r.uid !== undefined
    ? { namespace: r.namespace, name: r.name, uid: r.uid }
    : { namespace: r.namespace, name: r.name };
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function createNodeAgent(config: NodeAgentConfig, deps: NodeAgentDeps): Promise<NodeAgent> {
  const logger = deps.logger.child({ component: 'weft-cni-agent', node: config.node });
  const registry = deps.registry ?? createRegistry();
  const metrics = agentMetrics(registry);
  const netnsExists = deps.netnsExists ?? existsSync;
  const families = config.families ?? FAMILIES;
  const extraProbes = config.probeSources ?? [];
  const records = new Map<string, PodRecord>(); // by containerId
  let inventory: Inventory = EMPTY_INVENTORY;
  let fingerprint: string | undefined;
  let closed = false;

  // One queue for every change to records or rules.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const countPods = () => {
    const n = { ambient: 0, sidecar: 0, none: 0 };
    for (const r of records.values()) n[r.mode] += 1;
    for (const [mode, v] of Object.entries(n)) metrics.pods.set({ mode }, v);
  };
  const persist = async () => {
    countPods();
    try {
      await saveState(config.stateDir, records.values());
    } catch (err) {
      metrics.errors.inc({ operation: 'state' });
      logger.error('could not persist pod records', { error: message(err) });
    }
  };

  const ztunnel = new ZtunnelServer({
    path: config.ztunnelSocket,
    logger,
    ...(config.ackTimeoutMs !== undefined ? { ackTimeoutMs: config.ackTimeoutMs } : {}),
    snapshot: () =>
      [...records.values()]
        .filter((r) => r.mode === 'ambient')
        .map((r) => ({ pod: podRef(r), netns: r.netns })),
    onRefused: () => metrics.refused.reject('bad_ztunnel_message'),
    onConnection: (c) => metrics.ztunnelConnected.set({}, c ? 1 : 0),
  });

  /** Moves a pod's netns (and ztunnel) from its recorded capture to `desired`; returns the new record. */
  const transition = async (record: PodRecord, desired: Desired): Promise<PodRecord> => {
    const target = desired.mode === 'none' ? undefined : desired.spec;
    if (record.mode === 'ambient' && desired.mode !== 'ambient' && ztunnel.connected) {
      await ztunnel.remove(podRef(record)).catch((err) => {
        metrics.errors.inc({ operation: 'ztunnel' });
        logger.warn('ztunnel did not take the removal', {
          pod: `${record.namespace}/${record.name}`,
          error: message(err),
        });
      });
    }
    await syncRules(deps.applier, record.netns, ruleSetsFor(desired.mode, target, families), families);
    const next: PodRecord = {
      ...withoutSpec(record),
      mode: desired.mode,
      ...(target ? { spec: target } : {}),
    };
    if (desired.mode === 'ambient' && record.mode !== 'ambient' && ztunnel.connected) {
      await ztunnel.add(podRef(record), record.netns).catch((err) => {
        metrics.errors.inc({ operation: 'ztunnel' });
        logger.warn('ztunnel did not take the pod; it is replayed when ztunnel reconnects', {
          pod: `${record.namespace}/${record.name}`,
          error: message(err),
        });
      });
    }
    logger.info('pod capture changed', {
      pod: `${record.namespace}/${record.name}`,
      from: record.mode,
      to: desired.mode,
      reason: desired.reason,
    });
    return next;
  };

  /** Brings every known pod to what the manifests say; forgets pods whose netns is gone. */
  const reconcileAll = async (why: string, verify: boolean): Promise<void> => {
    let changed = false;
    for (const record of [...records.values()]) {
      const label = `${record.namespace}/${record.name}`;
      if (!netnsExists(record.netns)) {
        logger.info('pod netns is gone; forgotten', { pod: label, netns: record.netns, why });
        if (record.mode === 'ambient' && ztunnel.connected)
          await ztunnel.remove(podRef(record)).catch(() => {});
        records.delete(record.containerId);
        changed = true;
        continue;
      }
      const want = desiredFor(record, inventory, extraProbes);
      if (!want.ok && why !== 'periodic') {
        metrics.refused.reject('invalid_annotation');
        logger.warn('pod capture not changed: invalid annotation', { pod: label, error: want.error.message });
      }
      const desired: Desired = want.ok
        ? want.desired
        : record.mode === 'none' || record.spec === undefined
          ? { mode: 'none', reason: 'kept' }
          : { mode: record.mode, spec: record.spec, reason: 'kept' };
      const same = sameCapture(record, desired.mode === 'none' ? { mode: 'none' } : desired);
      if (same && !verify) continue;
      try {
        if (same) {
          // Restart: prove the netns holds exactly what it should (none missing, none left).
          const outcome = await syncRules(
            deps.applier,
            record.netns,
            ruleSetsFor(record.mode, record.spec, families),
            families,
          );
          if (outcome.changed.length > 0)
            logger.info('pod rules repaired', { pod: label, families: outcome.changed.join(',') });
        } else {
          records.set(record.containerId, await transition(record, desired));
          changed = true;
        }
      } catch (err) {
        metrics.errors.inc({ operation: 'rules' });
        logger.error('could not bring pod rules up to date', { pod: label, error: message(err), why });
      }
    }
    if (changed) await persist();
  };

  const refreshInventory = async (force: boolean): Promise<boolean> => {
    try {
      const scan = await scanManifests(config.manifestsDir);
      if (!force && scan.fingerprint === fingerprint) return false;
      fingerprint = scan.fingerprint;
      inventory = await loadInventory(scan);
      for (const p of inventory.problems.slice(0, 20)) logger.warn('manifest problem', { problem: p });
      return true;
    } catch (err) {
      metrics.errors.inc({ operation: 'manifests' });
      logger.error('could not read the manifests folder', { dir: config.manifestsDir, error: message(err) });
      return false;
    }
  };

  // --- CNI requests --------------------------------------------------------------------------

  const add = async (req: AddRequest): Promise<object> => {
    if (!netnsExists(req.netns)) throw new HttpError(422, `netns ${req.netns} does not exist`);
    // A pod whose sandbox was recreated: forget the old sandbox first.
    for (const old of [...records.values()]) {
      if (old.namespace === req.namespace && old.name === req.name && old.containerId !== req.containerId) {
        if (netnsExists(old.netns))
          await transition(old, { mode: 'none', reason: 'sandbox replaced' }).catch(() => {});
        else if (old.mode === 'ambient' && ztunnel.connected)
          await ztunnel.remove(podRef(old)).catch(() => {});
        records.delete(old.containerId);
      }
    }
    const want = desiredFor(req, inventory, extraProbes);
    if (!want.ok) {
      metrics.refused.reject('invalid_annotation');
      throw new HttpError(422, want.error.message);
    }
    const desired = want.desired;
    const base: PodRecord = {
      namespace: req.namespace,
      name: req.name,
      ...(req.uid !== undefined ? { uid: req.uid } : {}),
      containerId: req.containerId,
      netns: req.netns,
      ifname: req.ifname,
      ips: req.ips,
      mode: 'none',
    };
    if (desired.mode === 'none') {
      const previous = records.get(req.containerId);
      if (previous && previous.mode !== 'none')
        records.set(req.containerId, await transition(previous, desired));
      else records.set(req.containerId, base);
      await persist();
      return { result: 'not-in-mesh', reason: desired.reason };
    }
    if (desired.mode === 'ambient' && !ztunnel.connected) {
      throw new HttpError(503, 'ztunnel is not connected to the node agent', true);
    }
    const sets = ruleSetsFor(desired.mode, desired.spec, families);
    try {
      await syncRules(deps.applier, req.netns, sets, families);
      if (desired.mode === 'ambient') await ztunnel.add(podRef(req), req.netns);
    } catch (err) {
      // Fail closed, and leave nothing half-applied behind.
      await syncRules(deps.applier, req.netns, {}, families).catch((e) =>
        logger.error('could not roll back pod rules', {
          pod: `${req.namespace}/${req.name}`,
          error: message(e),
        }),
      );
      if (desired.mode === 'ambient' && err instanceof ZtunnelError && err.retryable && ztunnel.connected) {
        await ztunnel.remove(podRef(req)).catch(() => {});
      }
      records.delete(req.containerId);
      await persist();
      metrics.errors.inc({ operation: err instanceof ZtunnelError ? 'ztunnel' : 'rules' });
      if (err instanceof ZtunnelError)
        throw new HttpError(err.retryable ? 503 : 500, err.message, err.retryable);
      throw new HttpError(500, `could not install rules: ${message(err)}`);
    }
    records.set(req.containerId, { ...base, mode: desired.mode, spec: desired.spec });
    await persist();
    logger.info('pod enrolled', {
      pod: `${req.namespace}/${req.name}`,
      mode: desired.mode,
      netns: req.netns,
    });
    return { result: 'enrolled', mode: desired.mode };
  };

  const del = async (req: DelRequest): Promise<object> => {
    const record =
      records.get(req.containerId) ??
      [...records.values()].find(
        (r) => r.namespace === req.namespace && r.name === req.name && r.netns === req.netns,
      );
    if (!record) return { result: 'unknown' };
    records.delete(record.containerId);
    if (record.mode === 'ambient' && ztunnel.connected) {
      await ztunnel
        .remove(podRef(record))
        .catch((err) => logger.warn('ztunnel did not take the removal', { error: message(err) }));
    }
    if (record.mode !== 'none' && netnsExists(record.netns)) {
      await syncRules(deps.applier, record.netns, {}, families).catch((err) =>
        logger.warn('could not remove rules from a deleted pod (its netns goes with it)', {
          error: message(err),
        }),
      );
    }
    await persist();
    logger.info('pod removed', { pod: `${record.namespace}/${record.name}` });
    return { result: 'removed' };
  };

  const check = async (req: CheckRequest): Promise<object> => {
    const record = records.get(req.containerId);
    if (!record) {
      const want = desiredFor({ ...req, ips: [] }, inventory, extraProbes);
      if (want.ok && want.desired.mode === 'none') return { result: 'not-in-mesh' };
      throw new HttpError(409, `pod ${req.namespace}/${req.name} is not enrolled`);
    }
    if (record.mode === 'ambient' && !ztunnel.connected)
      throw new HttpError(503, 'ztunnel is not connected', true);
    const checks = await inspectRules(
      deps.applier,
      record.netns,
      ruleSetsFor(record.mode, record.spec, families),
      families,
    );
    for (const [family, c] of Object.entries(checks)) {
      if (c && !c.ok) {
        throw new HttpError(
          409,
          `IPv${family} rules differ: missing ${c.missing.length}, unexpected ${c.unexpected.length}`,
        );
      }
    }
    return record.mode === 'none' ? { result: 'not-in-mesh' } : { result: 'ok' };
  };

  const routes: Record<string, (body: string) => Promise<object>> = {
    [API_PATHS.add]: (body) => {
      const d = decodeAddRequest(body);
      if (!d.ok) throw refusal('bad_request', d.error);
      return serial(() => add(d.value));
    },
    [API_PATHS.del]: (body) => {
      const d = decodeDelRequest(body);
      if (!d.ok) throw refusal('bad_request', d.error);
      return serial(() => del(d.value));
    },
    [API_PATHS.check]: (body) => {
      const d = decodeCheckRequest(body);
      if (!d.ok) throw refusal('bad_request', d.error);
      return serial(() => check(d.value));
    },
  };
  const refusal = (reason: RefusalReason, msg: string) => {
    metrics.refused.reject(reason);
    return new HttpError(
      reason === 'body_too_large'
        ? 413
        : reason === 'not_found'
          ? 404
          : reason === 'method_not_allowed'
            ? 405
            : 400,
      msg,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const command = (req.url ?? '').split('/').pop()?.slice(0, 16) || 'unknown';
    const reply = (status: number, body: object) => {
      if (res.headersSent || res.destroyed) return;
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      const route = routes[req.url ?? ''];
      if (!route) throw refusal('not_found', `no such path ${JSON.stringify((req.url ?? '').slice(0, 64))}`);
      if (req.method !== 'POST') throw refusal('method_not_allowed', 'only POST');
      const body = await readBody(req);
      if (body === undefined) throw refusal('body_too_large', `body larger than ${MAX_BODY_BYTES} bytes`);
      const answer = await route(body);
      metrics.requests.inc({ command, result: String((answer as { result?: string }).result ?? 'ok') });
      reply(200, answer);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, message(err));
      if (!(err instanceof HttpError)) {
        metrics.errors.inc({ operation: 'request' });
        logger.error('request failed', { error: e.message });
      } else if (e.status < 500)
        logger.warn('request refused', { path: req.url?.slice(0, 64), error: e.message });
      metrics.requests.inc({
        command: routes[req.url ?? ''] ? command : 'unknown',
        result: `error_${e.status}`,
      });
      reply(e.status, e.retryable ? { error: e.message, retryable: true } : { error: e.message });
      if (e.status === 413) req.socket.destroy();
    }
  };

  // --- start: state, manifests, reconcile, then serve -----------------------------------------

  const loaded = await loadState(config.stateDir);
  for (const p of loaded.problems) logger.warn('pod record not loaded', { problem: p });
  for (const r of loaded.pods) records.set(r.containerId, r);
  countPods();
  await refreshInventory(true);
  await reconcileAll('agent start', true);

  await mkdir(dirname(config.ztunnelSocket), { recursive: true });
  await mkdir(dirname(config.cniSocket), { recursive: true });
  await ztunnel.listen();
  const cniServer: Server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    void handle(req, res);
  });
  cniServer.on('clientError', (_err, socket) => {
    metrics.refused.reject('bad_request');
    socket.destroy();
  });
  cniServer.requestTimeout = 60_000;
  cniServer.headersTimeout = 10_000;
  await unlink(config.cniSocket).catch(() => {});
  await new Promise<void>((resolve, reject) => {
    cniServer.once('error', reject);
    cniServer.listen(config.cniSocket, () => {
      cniServer.off('error', reject);
      resolve();
    });
  });
  cniServer.on('error', (err) => logger.error('CNI socket server error', { error: err.message }));
  await chmod(config.cniSocket, 0o600).catch(() => {});

  let metricsServer: Server | undefined;
  let metricsAddress: { host: string; port: number } | undefined;
  if (config.metricsAddress) {
    const serve = metricsHandler(registry);
    const server = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === '/metrics') serve(req, res);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.metricsAddress?.port, config.metricsAddress?.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') metricsAddress = { host: addr.address, port: addr.port };
    metricsServer = server;
  }

  // Manifest changes: an fs event triggers a scan soon; the periodic scan catches lost events.
  const tick = () => {
    if (closed) return;
    void serial(async () => {
      if (closed) return;
      const changed = await refreshInventory(false);
      await reconcileAll(changed ? 'manifests changed' : 'periodic', false);
    });
  };
  const interval = setInterval(tick, config.rescanIntervalMs ?? 1000);
  interval.unref();
  let watcher: FSWatcher | undefined;
  let soon: ReturnType<typeof setTimeout> | undefined;
  try {
    watcher = fsWatch(config.manifestsDir, { recursive: false }, () => {
      if (soon) return;
      soon = setTimeout(() => {
        soon = undefined;
        tick();
      }, 50);
      soon.unref();
    });
    watcher.on('error', () => {});
  } catch {
    logger.warn('cannot watch the manifests folder; relying on the periodic scan', {
      dir: config.manifestsDir,
    });
  }
  logger.info('node agent ready', {
    cniSocket: config.cniSocket,
    ztunnelSocket: config.ztunnelSocket,
    pods: records.size,
    ...(metricsAddress ? { metrics: `${metricsAddress.host}:${metricsAddress.port}` } : {}),
  });

  return {
    metrics,
    registry,
    ...(metricsAddress ? { metricsAddress } : {}),
    pods: () => [...records.values()],
    resync: () =>
      serial(async () => {
        await refreshInventory(true);
        await reconcileAll('resync', false);
      }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(interval);
      if (soon) clearTimeout(soon);
      watcher?.close();
      await queue;
      await new Promise<void>((resolve) => {
        cniServer.close(() => resolve());
        cniServer.closeAllConnections?.();
      });
      await unlink(config.cniSocket).catch(() => {});
      await ztunnel.close();
      if (metricsServer) {
        const m = metricsServer;
        await new Promise<void>((resolve) => {
          m.close(() => resolve());
          m.closeAllConnections?.();
        });
      }
    },
  };
}

function withoutSpec(r: PodRecord): PodRecord {
  const { spec: _spec, ...rest } = r;
  return rest;
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', () => {
      if (!done) resolve(undefined);
      done = true;
    });
  });
}
