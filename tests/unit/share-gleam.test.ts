/** The gleam (the patent's FIG. 5; client/ui/share/gleam.ts): which folders show the star. */
import { describe, expect, it } from "vitest";
import { ancestors, gleams, type Change } from "../../client/ui/share/gleam.ts";

/** A seen function over a map, with a baseline for folders never opened. */
const seenOf = (m: Map<string, number>, baseline = 0) => (f: string) => Math.max(m.get(f) ?? baseline, baseline);

describe("gleam", () => {
  const changes: Change[] = [
    { path: "photos/beach.jpg", seq: 3 },
    { path: "work/plan.txt", seq: 4 },
  ];

  it("a folder gleams when a change under it, at any depth, is newer than what it has seen", () => {
    const seen = seenOf(new Map());
    expect(gleams("", changes, seen)).toBe(true);
    expect(gleams("photos", changes, seen)).toBe(true);
    expect(gleams("work", changes, seen)).toBe(true);
    expect(gleams("docs", changes, seen)).toBe(false);
    // "photo" is not a parent of "photos/…".
    expect(gleams("photo", changes, seen)).toBe(false);
    expect(gleams("", [{ path: "a/b/c/d.txt", seq: 1 }], seen)).toBe(true);
  });

  it("nothing gleams for changes up to the baseline (what was there when the UI started following the space)", () => {
    expect(gleams("", changes, seenOf(new Map(), 4))).toBe(false);
    expect(gleams("work", changes, seenOf(new Map(), 3))).toBe(true);
  });

  it("opening a sub-folder clears it, and its parents when nothing else under them changed", () => {
    const m = new Map<string, number>();
    const one: Change[] = [{ path: "photos/2026/beach.jpg", seq: 5 }];
    m.set("photos/2026", 5);
    expect(gleams("photos/2026", one, seenOf(m))).toBe(false);
    expect(gleams("", one, seenOf(m))).toBe(false);
    expect(gleams("photos", one, seenOf(m))).toBe(false);
  });

  it("a parent with an unseen change elsewhere keeps its star", () => {
    const m = new Map<string, number>();
    m.set("photos", 4);
    expect(gleams("photos", changes, seenOf(m))).toBe(false);
    expect(gleams("", changes, seenOf(m))).toBe(true); // work/plan.txt
    expect(gleams("work", changes, seenOf(m))).toBe(true);
    m.set("work", 4);
    expect(gleams("", changes, seenOf(m))).toBe(false);
  });

  it("opening a folder clears its own star; a changed sub-folder keeps its own until opened", () => {
    const m = new Map<string, number>();
    m.set("", 4);
    expect(gleams("", changes, seenOf(m))).toBe(false);
    expect(gleams("photos", changes, seenOf(m))).toBe(true);
    expect(gleams("work", changes, seenOf(m))).toBe(true);
  });

  it("a change after the opening gleams again", () => {
    const m = new Map<string, number>();
    m.set("", 4);
    const later = [...changes, { path: "new.txt", seq: 7 }];
    expect(gleams("", later, seenOf(m))).toBe(true);
    expect(gleams("photos", later, seenOf(m))).toBe(true);
  });

  it("each ancestor is judged on its own: the root opened lately clears while a nearer one keeps an older star", () => {
    // a/x changed (1), then the root was opened (seen 2), then a/b/c changed (3).
    const m = new Map<string, number>([["", 2]]);
    const cs: Change[] = [{ path: "a/x", seq: 1 }, { path: "a/b/c", seq: 3 }];
    m.set("a/b", 3);
    expect(gleams("a/b", cs, seenOf(m))).toBe(false);
    expect(gleams("a", cs, seenOf(m))).toBe(true); // a/x was never seen from a
    expect(gleams("", cs, seenOf(m))).toBe(false);
  });

  it("ancestors", () => {
    expect(ancestors("a/b/c")).toEqual(["a/b", "a", ""]);
    expect(ancestors("a")).toEqual([""]);
    expect(ancestors("")).toEqual([]);
  });
});
