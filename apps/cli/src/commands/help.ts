// weft help <topic|command> and weft completion bash|zsh.
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { usageError } from '../errors.ts';

export const TOPICS: Readonly<Record<string, string>> = {
  modes: `WEFT-MODES(7)

NAME
    modes - how a workload joins the mesh

DESCRIPTION
    The label weft.dev/dataplane-mode (on the pod, else on its namespace) chooses:

    ambient    the node's ztunnel carries the pod's traffic over HBONE mTLS and enforces L4
               policy; a waypoint (weft.dev/use-waypoint) adds L7 routing and policy.
    sidecar    a proxy next to the app (weft inject adds it) does mTLS, L7 routing and policy.
    proxyless  a gRPC app linked with @weft/proxyless-sdk takes xDS and certificates itself.
    none       out of the mesh: plaintext, no policy.

    Change it with: weft dataplane-mode <ns|ns/pod> <mode> --config-dir <dir>
    See what a request would meet: weft authz check <from> <to>
`,
  policies: `WEFT-POLICIES(7)

NAME
    policies - who may call whom

DESCRIPTION
    AuthorizationPolicy (security.istio.io/v1): DENY wins, then if any ALLOW policy applies a
    rule must match, else the request is allowed. A policy with a selector applies at the
    workload's own data plane (ztunnel at L4, a sidecar at L7); one with targetRefs naming a
    Service or a waypoint Gateway applies at the waypoint. At L4 an ALLOW rule needing HTTP
    fields never matches and a DENY rule drops them (stricter, never looser).

    PeerAuthentication sets STRICT / PERMISSIVE / DISABLE mTLS per mesh, namespace, workload
    or port; the narrowest scope wins, then the oldest policy.

    Check manifests offline:   weft analyze -f <dir>
    Ask for one decision:      weft authz check demo/client demo/echo --method GET --path /
`,
  troubleshooting: `WEFT-TROUBLESHOOTING(7)

NAME
    troubleshooting - where to look when traffic fails

STEPS
    1. weft check             weftd ready, config accepted, proxies in sync, certificates fresh.
    2. weft proxy-status      a STALE or NACKED proxy: the NACK names the resource and field.
    3. weft analyze -f <dir>  rejected objects and cross-object mistakes, with the fix.
    4. weft authz check       would the request be denied, by which policy and rule.
    5. weft config <proxy>    what the proxy actually holds, and where it differs from weftd.
    6. weft logs <proxy>      access log lines (rbac=, response_flags=) and events.
    7. weft top --once        which workload fails or is slow.

EXIT CODES
    0 ok, 1 a check failed / denied / analysis errors, 2 usage or input error, 3 unreachable.
`,
};

function walk(cmd: Command, prefix: string[] = []): { path: string[]; options: string[] }[] {
  const out: { path: string[]; options: string[] }[] = [];
  for (const c of cmd.commands) {
    const path = [...prefix, c.name()];
    out.push({ path, options: c.options.map((o) => o.long ?? o.short ?? '').filter((x) => x !== '') });
    out.push(...walk(c, path));
  }
  return out;
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const entries = walk(program);
  const globals = program.options.map((o) => o.long ?? '').filter((x) => x !== '');
  const cases = entries
    .map((e) => {
      const subs = entries
        .filter(
          (x) => x.path.length === e.path.length + 1 && x.path.slice(0, -1).join(' ') === e.path.join(' '),
        )
        .map((x) => x.path.at(-1));
      return `    "${e.path.join(' ')}") words="${[...subs, ...e.options, '--help'].join(' ')}" ;;`;
    })
    .join('\n');
  const top = entries.filter((e) => e.path.length === 1).map((e) => e.path[0]);
  const bash = `# weft bash completion: source <(weft completion bash)
_weft() {
  local cur words key i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  key=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) key="\${key:+$key }\${COMP_WORDS[i]}" ;; esac
  done
  case "$key" in
    "") words="${[...top, ...globals].join(' ')}" ;;
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _weft weft
`;
  if (shell === 'bash') return bash;
  return `#compdef weft\n# weft zsh completion: source <(weft completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

export function registerHelp(program: Command, ctx: CommandContext): void {
  program.helpCommand(false);
  program
    .command('help')
    .argument('[topic]', `a command, or a topic: ${Object.keys(TOPICS).join(', ')}`)
    .description('help on a command, or a man-style topic (modes, policies, troubleshooting)')
    .action((topic: string | undefined) => {
      if (topic === undefined) {
        program.outputHelp();
        return;
      }
      const text = TOPICS[topic];
      if (text !== undefined && Object.hasOwn(TOPICS, topic)) {
        ctx.io.out(text);
        return;
      }
      const cmd = program.commands.find((c) => c.name() === topic);
      if (cmd === undefined)
        throw usageError(`no help topic or command ${topic}; topics: ${Object.keys(TOPICS).join(', ')}`);
      cmd.outputHelp();
    });
  program
    .command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('print a shell completion script: source <(weft completion bash)')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw usageError(`completion ${shell}: bash or zsh`);
      ctx.io.out(completionScript(program, shell));
    });
}
