/**
 * Transfer progress on a terminal: one line rewritten in place on stderr, at most ten times a
 * second. Silent when stderr is not a terminal or when JSON output was asked for.
 */
export interface Progress {
  update(event: { phase: "upload" | "download"; bytes: number }): void;
  done(): void;
}

const MB = 1024 * 1024;

export function terminalProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  if (!enabled || !stream.isTTY) return undefined;
  const totals = { upload: 0, download: 0 };
  let last = 0;
  let shown = false;
  const draw = () => {
    stream.write(`\r↑ ${(totals.upload / MB).toFixed(1)} MB  ↓ ${(totals.download / MB).toFixed(1)} MB `);
    shown = true;
  };
  return {
    update(e) {
      totals[e.phase] += e.bytes;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw();
      }
    },
    done() {
      if (shown) {
        draw();
        stream.write("\n");
      }
    },
  };
}
