;; Loops forever in fhgate_process: the epoch deadline must stop it.
(module
  (memory (export "memory") 34)
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (i32.const 65536))
  (func (export "fhgate_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (loop $forever (br $forever))
    (local.get $n))
  (@custom "fhgate.meta" "name=infinite_loop\nversion=1\nplanes=any\n")
)
