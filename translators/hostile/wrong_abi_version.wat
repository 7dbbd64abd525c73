;; Says it speaks ABI version 1 (an old build, whose slots lie 16 384
;; bytes apart): refused at load with a hint to rebuild.
(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 1))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32) (local.get $n))
  (@custom "fhgate.meta" "name=wrong_abi_version\nversion=1\n")
)
