;; Exports fhgate_process with an i64 parameter: refused at load, naming
;; the export and both signatures.
(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i64) (result i32)
    (i32.wrap_i64 (local.get $n)))
  (@custom "fhgate.meta" "name=wrong_signature\nversion=1\n")
)
