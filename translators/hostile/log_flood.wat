;; Calls fhgate.log 1000 times per burst: the host rate-limits it (burst
;; of 10, then 10/s) and counts the rest as dropped. Not a fault.
(module
  (import "fhgate" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 34)
  (data (i32.const 16) "flood!")
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (local $i i32)
    (loop $more
      (call $log (i32.const 2) (i32.const 16) (i32.const 6))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000))))
    (local.get $n))
  (@custom "fhgate.meta" "name=log_flood\nversion=1\n")
)
