// The CNI plugin as a function: environment + stdin in, stdout + exit code out. The failure
// policy, explicitly:
//   - excluded namespaces: passed through untouched, the agent is not asked;
//   - the agent answers "not in the mesh": passed through;
//   - the agent is unreachable: ADD fails closed with code 11 (try again later);
//   - the agent failed or refused enrollment: ADD fails closed with code 100;
//   - DEL never fails because the agent is gone (DEL is idempotent); it tells it when reachable.
// Bad input (env, stdin, netns path) is refused before the agent is contacted, so no rule is
// ever half-applied for it.

import type { Logger } from '@weft/telemetry/log';
import type { AgentTransport } from '../api/client.ts';
import {
  type AddRequest,
  type AddResponse,
  API_PATHS,
  type CheckResponse,
  type DelResponse,
  decodeAnswer,
} from '../api/messages.ts';
import { netnsPathError } from '../protocol/netns.ts';
import {
  answerVersion,
  decodeCommand,
  decodeConfig,
  decodeEnv,
  MAX_STDIN_BYTES,
  type PluginConfig,
  podIpsFromResult,
  SUPPORTED_VERSIONS,
} from './config.ts';
import { CNI_ERROR, type CniError, cniError } from './errors.ts';

export interface PluginInput {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  /** Set when stdin was longer than MAX_STDIN_BYTES (and was cut). */
  readonly stdinTooLarge?: boolean;
}

export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

export interface PluginDeps {
  readonly transport: AgentTransport;
  readonly netnsExists: (path: string) => boolean;
  /** Built from the config's log_level once it is known. */
  readonly logger: (config: PluginConfig | undefined) => Logger;
  /** ADD waits this long for the agent (it applies rules and waits for ztunnel). Default 30 s. */
  readonly addTimeoutMs?: number;
  /** DEL and CHECK. Default 5 s. */
  readonly otherTimeoutMs?: number;
}

const errorOutput = (cniVersion: string, error: CniError): PluginOutput => ({
  stdout: `${JSON.stringify({ cniVersion, ...error })}\n`,
  exitCode: 1,
});

export async function runPlugin(input: PluginInput, deps: PluginDeps): Promise<PluginOutput> {
  const version = answerVersion(input.stdinTooLarge ? '' : input.stdin);
  const command = decodeCommand(input.env.CNI_COMMAND);
  if (!command.ok) return errorOutput(version, command.error);
  if (command.value === 'VERSION') {
    return {
      stdout: `${JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS })}\n`,
      exitCode: 0,
    };
  }
  if (input.stdinTooLarge) {
    return errorOutput(
      version,
      cniError(CNI_ERROR.decodeFailure, `network configuration larger than ${MAX_STDIN_BYTES} bytes`),
    );
  }
  const config = decodeConfig(input.stdin);
  if (!config.ok) return errorOutput(version, config.error);
  const cfg = config.value;
  const logger = deps
    .logger(cfg)
    .child({ command: command.value, container: input.env.CNI_CONTAINERID?.slice(0, 80) });
  const env = decodeEnv(command.value, input.env);
  if (!env.ok) {
    logger.warn('refused: invalid environment', { reason: env.error.msg });
    return errorOutput(cfg.cniVersion, env.error);
  }
  const e = env.value;
  const fail = (error: CniError): PluginOutput => {
    logger.warn('refused', { code: error.code, reason: error.msg });
    return errorOutput(cfg.cniVersion, error);
  };
  const excluded = e.namespace !== undefined && cfg.excludeNamespaces.includes(e.namespace);

  switch (e.command) {
    case 'ADD':
    case 'CHECK': {
      const prev = cfg.prevResult;
      if (prev === undefined) {
        return fail(
          cniError(
            CNI_ERROR.invalidConfig,
            `prevResult is missing: weft-cni must be chained after the cluster's network plugin`,
          ),
        );
      }
      const ips = podIpsFromResult(prev);
      if (!ips.ok) return fail(ips.error);
      const passThrough: PluginOutput =
        e.command === 'ADD'
          ? { stdout: `${JSON.stringify({ cniVersion: cfg.cniVersion, ...prev })}\n`, exitCode: 0 }
          : { stdout: '', exitCode: 0 };
      if (excluded) {
        logger.debug('namespace excluded: passed through', { namespace: e.namespace });
        return passThrough;
      }
      const netns = e.netns ?? '';
      const bad = netnsPathError(netns);
      if (bad) return fail(cniError(CNI_ERROR.invalidEnv, `CNI_NETNS refused: ${bad}`));
      if (!deps.netnsExists(netns)) {
        return fail(
          cniError(CNI_ERROR.containerUnknown, `CNI_NETNS ${JSON.stringify(netns)} does not exist`),
        );
      }
      const pod = { namespace: e.namespace ?? '', name: e.podName ?? '' };
      if (e.command === 'CHECK') {
        const answer = await ask<CheckResponse>(
          deps,
          cfg,
          API_PATHS.check,
          { ...pod, containerId: e.containerId, netns },
          ['ok', 'not-in-mesh'],
          deps.otherTimeoutMs ?? 5000,
        );
        if (!answer.ok) return fail(answer.error);
        return passThrough;
      }
      const request: AddRequest = {
        ...pod,
        ...(e.podUid !== undefined ? { uid: e.podUid } : {}),
        containerId: e.containerId,
        netns,
        ifname: e.ifname,
        ips: ips.value,
      };
      const answer = await ask<AddResponse>(
        deps,
        cfg,
        API_PATHS.add,
        request,
        ['enrolled', 'not-in-mesh'],
        deps.addTimeoutMs ?? 30_000,
      );
      if (!answer.ok) return fail(answer.error);
      logger.info(
        answer.value.result === 'enrolled' ? 'pod enrolled' : 'pod not in the mesh: passed through',
        {
          pod: `${pod.namespace}/${pod.name}`,
          ...(answer.value.result === 'enrolled' ? { mode: answer.value.mode } : {}),
        },
      );
      return passThrough;
    }
    case 'DEL': {
      if (excluded) return { stdout: '', exitCode: 0 };
      const body = {
        containerId: e.containerId,
        ...(e.namespace !== undefined ? { namespace: e.namespace } : {}),
        ...(e.podName !== undefined ? { name: e.podName } : {}),
        ...(e.netns !== undefined && netnsPathError(e.netns) === undefined ? { netns: e.netns } : {}),
      };
      const answer = await ask<DelResponse>(
        deps,
        cfg,
        API_PATHS.del,
        body,
        ['removed', 'unknown'],
        deps.otherTimeoutMs ?? 5000,
      );
      if (!answer.ok)
        logger.warn('node agent not told of the deletion (DEL succeeds anyway)', {
          reason: answer.error.msg,
        });
      return { stdout: '', exitCode: 0 };
    }
    default: {
      const never: never = e.command;
      return fail(cniError(CNI_ERROR.invalidEnv, `unknown command ${String(never)}`));
    }
  }
}

async function ask<T extends { readonly result: string }>(
  deps: PluginDeps,
  cfg: PluginConfig,
  path: string,
  body: unknown,
  results: readonly T['result'][],
  timeoutMs: number,
): Promise<{ ok: true; value: T } | { ok: false; error: CniError }> {
  const res = await deps.transport.post(cfg.agentSocket, path, body, timeoutMs);
  if (!res.ok) {
    return {
      ok: false,
      error: cniError(
        CNI_ERROR.tryAgainLater,
        `node agent unreachable at ${cfg.agentSocket}: ${res.unreachable}`,
        'the pod is in the mesh and is not started without interception; the runtime retries',
      ),
    };
  }
  const answer = decodeAnswer<T>(res.status, res.body, results);
  if (answer.ok) return answer;
  const code = answer.retryable
    ? CNI_ERROR.tryAgainLater
    : path === API_PATHS.check
      ? CNI_ERROR.checkFailed
      : CNI_ERROR.enrollmentFailed;
  return { ok: false, error: cniError(code, `node agent: ${answer.error}`) };
}
