// Which network-namespace paths the CNI plugin, the node agent and ztunnel accept. A container
// runtime hands out bind-mounted names under /var/run/netns (or /run/netns) or a process's
// /proc/<pid>/ns/net; anything else (a symlink farm, a relative path, `..`) is refused so a
// hostile caller cannot make a privileged process enter an arbitrary file.

const MAX_NETNS_PATH = 4096;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;
const PROC = /^\/proc\/[1-9][0-9]{0,9}\/ns\/net$/;

/** Returns why `path` is not an accepted netns path, or undefined when it is. */
export function netnsPathError(path: string): string | undefined {
  if (path.length === 0) return 'netns path is empty';
  if (path.length > MAX_NETNS_PATH) return 'netns path is too long';
  if (PROC.test(path)) return undefined;
  for (const dir of ['/var/run/netns/', '/run/netns/']) {
    if (path.startsWith(dir)) {
      const name = path.slice(dir.length);
      if (NAME.test(name) && name !== '..') return undefined;
      return `netns name ${JSON.stringify(name)} under ${dir} is not a plain file name`;
    }
  }
  return `netns path ${JSON.stringify(path)} is not under /var/run/netns, /run/netns or /proc/<pid>/ns/net`;
}
