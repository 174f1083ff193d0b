/**
 * Uploads sent as an HTML form (`multipart/form-data`, parsed by busboy): what the folder page's
 * upload form posts when its script does not run (with the script, each file is sent on its own,
 * files.ts `upload`). The form carries the session's CSRF token and `seen` before its files, as
 * the page lays them out; a file part that arrives before a valid token is refused with the
 * whole form, before a byte of it is stored. Each file then goes exactly as a scripted upload
 * does (replica.ts: stored, committed, the conflict rule), one after the other, each its own
 * commit; the answer says, per file, what happened.
 *
 * Limits: at most MAX_FILES files and a few small fields; a file over the sharing manager's file
 * limit is refused (content.ts counts its bytes; busboy stops one byte past the limit).
 */
import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import type { Readable } from "node:stream";
import type { Deps } from "../deps.ts";
import type { WebUser } from "./auth.ts";
import { Refusal, checked, refusalOf, sameToken, seenParam, type Space } from "./params.ts";
import type { UploadResult, WebReplica } from "./replica.ts";

const MAX_FILES = 100;

export interface FormResult {
  readonly name: string;
  readonly result?: UploadResult;
  /** The sentence of a file that was refused. */
  readonly error?: string;
}

export function isMultipart(req: IncomingMessage): boolean {
  return (req.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data");
}

/** Reads the form and uploads its files into `folder`; rejects (a Refusal) when the form itself is refused. */
export function uploadForm(deps: Deps, replica: WebReplica, req: IncomingMessage, user: WebUser, s: Space, folder: string): Promise<FormResult[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: "utf8",
        limits: { files: MAX_FILES, fields: 8, fieldSize: 1024, parts: MAX_FILES + 8, fileSize: deps.config.limits.maxFileBytes + 1 },
      });
    } catch {
      return reject(new Refusal(400, "The upload form could not be read."));
    }
    const fields = new Map<string, string>();
    const results: FormResult[] = [];
    let refused: Refusal | undefined;
    let chain = Promise.resolve();
    const one = async (stream: Readable, name: string) => {
      if (!refused) {
        // The form's own fields come before its files; without them, none of its files is taken.
        if (!sameToken(fields.get("csrf") ?? "", user.csrf)) refused = new Refusal(403, "The page is out of date (its form token does not match). Reload it and try again.");
        else if (!/^\d{1,15}$/.test(fields.get("seen") ?? "")) refused = new Refusal(400, "The page sent no valid version (seen); reload it and try again.");
      }
      if (refused || name === "") return void stream.resume();
      try {
        checked(folder ? `${folder}/${name}` : name);
        if (name.includes("/")) throw new Refusal(400, "Each file needs a name without '/'.");
        const content = await replica.store(user.jid, stream);
        results.push({ name, result: await replica.upload(user.jid, s.id, folder, name, content, seenParam(fields.get("seen")!)) });
      } catch (err) {
        stream.resume();
        results.push({ name, error: refusalOf(err).message });
      }
    };
    parser.on("field", (name, value) => fields.set(name, value));
    parser.on("file", (_field, stream, info) => {
      chain = chain.then(() => one(stream, info.filename ?? ""));
    });
    parser.on("filesLimit", () => (refused ??= new Refusal(413, `At most ${MAX_FILES} files at once.`)));
    parser.on("error", () => reject(new Refusal(400, "The upload form could not be read.")));
    parser.on("close", () => void chain.then(() => (refused ? reject(refused) : resolve(results)), reject));
    req.pipe(parser);
  });
}
