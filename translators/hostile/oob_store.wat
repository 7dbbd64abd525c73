;; Stores far outside its linear memory: a trap (out of bounds memory access).
(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (i32.store (i32.const 0xFFFFFFF0) (i32.const 0xDEAD))
    (local.get $n))
  (@custom "fhgate.meta" "name=oob_store\nversion=1\n")
)
