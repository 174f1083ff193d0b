/**
 * Where a device keeps its configuration and state. `--home DIR` puts both in DIR (two homes
 * on one machine are two independent devices); otherwise the XDG directories:
 * `$XDG_CONFIG_HOME/xshare` (default ~/.config/xshare) and `$XDG_STATE_HOME/xshare`
 * (default ~/.local/state/xshare). Shared folders accepted without an explicit folder are
 * laid out under the sharing root, `~/Sharing` (or `DIR/Sharing` with --home).
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export interface Home {
  readonly configDir: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly stateDb: string;
  readonly sharingRoot: string;
}

export function resolveHome(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): Home {
  if (dir) {
    const root = resolve(dir);
    return { configDir: root, stateDir: root, configFile: join(root, "config.json"), stateDb: join(root, "state.sqlite"), sharingRoot: join(root, "Sharing") };
  }
  const user = env.HOME || homedir();
  const configDir = join(env.XDG_CONFIG_HOME || join(user, ".config"), "xshare");
  const stateDir = join(env.XDG_STATE_HOME || join(user, ".local", "state"), "xshare");
  return { configDir, stateDir, configFile: join(configDir, "config.json"), stateDb: join(stateDir, "state.sqlite"), sharingRoot: join(user, "Sharing") };
}
