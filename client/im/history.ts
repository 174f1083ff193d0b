/**
 * The local chat history of the `im` module: `<stateDir>/im.sqlite` (its own file, beside the
 * sync state; SQLite WAL), so conversations survive a restart of `xshare run`.
 *
 * Bounded: at most `perContact` messages per conversation (default 500), the oldest dropped
 * as new ones come, and at most `maxContacts` conversations (default 1000; the one silent for
 * longest goes), so a contact (or a stranger) flooding us cannot fill the disk.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

export interface StoredMessage {
  readonly seq: number;
  /** The other party's bare JID. */
  readonly contact: string;
  readonly dir: "in" | "out";
  readonly body: string;
  /** ms since the epoch, on this device's clock. */
  readonly at: number;
  /** "carbon": seen through another client of the user (XEP-0280). */
  readonly via?: "carbon";
}

export interface HistoryOptions {
  readonly perContact?: number;
  readonly maxContacts?: number;
}

export class History {
  readonly #db: Database.Database;
  readonly #perContact: number;
  readonly #maxContacts: number;

  constructor(file: string, opts: HistoryOptions = {}) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.#db = new Database(file);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = NORMAL");
    this.#db.exec(`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      contact TEXT NOT NULL,
      dir TEXT NOT NULL CHECK (dir IN ('in', 'out')),
      body TEXT NOT NULL,
      at INTEGER NOT NULL,
      via TEXT
    );
    CREATE INDEX IF NOT EXISTS messages_contact ON messages (contact, seq);`);
    this.#perContact = opts.perContact ?? 500;
    this.#maxContacts = opts.maxContacts ?? 1000;
  }

  /** Keeps a message; drops what falls out of the bounds. */
  add(m: Omit<StoredMessage, "seq">): StoredMessage {
    const tx = this.#db.transaction((): StoredMessage => {
      const r = this.#db.prepare("INSERT INTO messages (contact, dir, body, at, via) VALUES (?, ?, ?, ?, ?)").run(m.contact, m.dir, m.body, m.at, m.via ?? null);
      this.#db.prepare("DELETE FROM messages WHERE contact = ? AND seq <= (SELECT seq FROM messages WHERE contact = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)").run(m.contact, m.contact, this.#perContact);
      const contacts = (this.#db.prepare("SELECT COUNT(DISTINCT contact) AS n FROM messages").get() as { n: number }).n;
      if (contacts > this.#maxContacts) {
        this.#db.prepare("DELETE FROM messages WHERE contact IN (SELECT contact FROM messages GROUP BY contact ORDER BY MAX(seq) LIMIT ?)").run(contacts - this.#maxContacts);
      }
      return { seq: Number(r.lastInsertRowid), ...m };
    });
    return tx();
  }

  /** A conversation, oldest first (the last `limit` messages). */
  conversation(contact: string, limit = this.#perContact): StoredMessage[] {
    const rows = this.#db.prepare("SELECT seq, contact, dir, body, at, via FROM messages WHERE contact = ? ORDER BY seq DESC LIMIT ?").all(contact, limit) as Array<{ seq: number; contact: string; dir: "in" | "out"; body: string; at: number; via: string | null }>;
    return rows.reverse().map((r) => ({ seq: r.seq, contact: r.contact, dir: r.dir, body: r.body, at: r.at, ...(r.via === "carbon" ? { via: "carbon" as const } : {}) }));
  }

  /** A conversation's last message. */
  last(contact: string): StoredMessage | undefined {
    return this.conversation(contact, 1)[0];
  }

  /** Everyone with a conversation, with its last message, most recent first. */
  contacts(): Array<{ contact: string; last: StoredMessage }> {
    const rows = this.#db.prepare("SELECT m.seq, m.contact, m.dir, m.body, m.at, m.via FROM messages m JOIN (SELECT contact, MAX(seq) AS seq FROM messages GROUP BY contact) l ON l.seq = m.seq ORDER BY m.seq DESC").all() as Array<{ seq: number; contact: string; dir: "in" | "out"; body: string; at: number; via: string | null }>;
    return rows.map((r) => ({ contact: r.contact, last: { seq: r.seq, contact: r.contact, dir: r.dir, body: r.body, at: r.at, ...(r.via === "carbon" ? { via: "carbon" as const } : {}) } }));
  }

  close(): void {
    this.#db.close();
  }
}
