;; The chunker's hot loop (protocol/chunker.ts, XEP-draft.md § "Chunking") in WebAssembly: the
;; gear-hash boundary search of FastCDC over bytes that the caller has copied into this module's
;; memory. Source of truth for protocol/gear-wasm.ts (regenerate: node scripts/build-wasm.mjs;
;; tests/unit/chunker-wasm.test.ts fails if the two drift apart).
;;
;; Memory layout (one fixed memory, never grown, so JS views of it stay valid):
;;
;;     [0, 1024)                 GEAR[0..255] as little-endian i32, written once by chunker.ts
;;     [65536, 65536 + 2^18)     scratch: a window of the caller's bytes, copied in by chunker.ts
;;
;; The wire contract (table, masks, which bytes are absorbed at which chunk length) stays in
;; chunker.ts: this loop only absorbs the bytes it is given under the one mask it is given.
(module
  ;; 5 pages of 64 KiB: page 0 for the table, pages 1..4 for the scratch window; min = max. 256 KiB
  ;; of window keep the copy and the scan inside a 1 MiB L2 cache (faster than 1 MiB windows).
  (memory (export "memory") 5 5)

  ;; Where the scratch window starts and how large it is, for the JS side.
  (global (export "scratch") i32 (i32.const 65536))
  (global (export "scratchSize") i32 (i32.const 262144))

  ;; The hash after a gear() call that found no boundary, to resume with in the next window.
  (global $hash (export "hash") (mut i32) (i32.const 0))

  ;; gear(p, stop, m, h): for each byte at p, p + 1, ..., stop - 1 (addresses in the scratch
  ;; window), h = 2·h + GEAR[byte] (mod 2^32); at the first byte after which h AND m == 0, returns
  ;; the address just past that byte. If there is none, stores h in $hash and returns 0 (never a
  ;; valid answer: the scratch window starts at 65536).
  ;;
  ;; Once compiled, a step is a byte load, a shift, a table load, one lea for h and a fused
  ;; test-and-branch, about one byte per cycle. Unrolling saves the loop's own overhead: one bounds
  ;; check per eight bytes, byte loads at constant offsets from one base (x86-64, V8 11.3, loop
  ;; alone: 4x ≈ 2.8 GB/s, 8x ≈ 3.3, 16x ≈ 3.35). Breaking the chain through h into independent
  ;; lanes does not help here: two interleaved scalar lanes ran at ≈ 2.6 GB/s and four i32x4 SIMD
  ;; lanes (table entries inserted with v128.load32_lane, no gather) at ≈ 2.3 GB/s, both before
  ;; the sequential pass that such a search would still need to resolve its candidates.
  (func (export "gear") (param $p i32) (param $stop i32) (param $m i32) (param $h i32) (result i32)
    (local $stop8 i32)
    ;; p < stop - 7 <=> at least eight bytes are left. stop >= 65536, so this cannot wrap.
    (local.set $stop8 (i32.sub (local.get $stop) (i32.const 7)))
    (block $tail
      (loop $eight
        (br_if $tail (i32.ge_u (local.get $p) (local.get $stop8)))
        ;; Byte p + k: h = (h << 1) + GEAR[b], the table entry of byte b being at address 4·b;
        ;; a boundary after it returns p + k + 1.
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=0 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 1)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 2)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 3)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 4)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 5)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 6)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 7)))))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=7 (local.get $p)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.add (local.get $p) (i32.const 8)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $eight)))

    ;; The last 0..7 bytes, one at a time.
    (block $done
      (loop $one
        (br_if $done (i32.ge_u (local.get $p) (local.get $stop)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (local.get $p))))
        (br $one)))

    (global.set $hash (local.get $h))
    (i32.const 0)))
