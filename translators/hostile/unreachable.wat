;; Executes `unreachable`: a trap.
(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    unreachable)
  (@custom "fhgate.meta" "name=unreachable\nversion=1\n")
)
