;; Grows its memory 16 pages at a time until memory.grow fails (the host
;; cap), adds the page count it reached to counter "pages", then stores
;; one byte past the end of its memory: a trap.
(module
  (import "fhgate" "counter_define" (func $counter_define (param i32 i32) (result i32)))
  (import "fhgate" "counter_add" (func $counter_add (param i32 i64)))
  (memory (export "memory") 34)
  (data (i32.const 16) "pages")
  (global $pages (mut i32) (i32.const -1))
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32)
    (global.set $pages (call $counter_define (i32.const 16) (i32.const 5)))
    (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (block $full
      (loop $grow
        (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $grow)))
    (call $counter_add (global.get $pages) (i64.extend_i32_u (memory.size)))
    ;; Past the cap: the first byte after the memory.
    (i32.store8 (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
    (local.get $n))
  (@custom "fhgate.meta" "name=memory_grow\nversion=1\n")
)
