;; Returns bad output. The configuration `mode=X` picks the kind (the byte
;; after "mode=" is read in fhgate_init):
;;   len     descriptor 0: MODIFIED with len 0x7fffffff
;;   verdict descriptor 0: verdict 9
;;   count   returns 1000 (more than 128 outputs)
;;   origin  one EXTRA whose origin is n (not an input)
;;   range   descriptor 0: MODIFIED at offset 0x7fffff00 (outside the region)
(module
  (memory (export "memory") 34)
  (global $mode (mut i32) (i32.const 0))
  (global $R i32 (i32.const 65536))
  (func (export "fhgate_abi_version") (result i32) (i32.const 2))
  (func (export "fhgate_io") (result i32) (global.get $R))
  (func (export "fhgate_init") (param $p i32) (param $len i32) (result i32)
    (if (i32.ge_u (local.get $len) (i32.const 6))
      (then (global.set $mode (i32.load8_u offset=5 (local.get $p)))))
    (i32.const 0))
  ;; Address of descriptor $i.
  (func $desc (param $i i32) (result i32)
    (i32.add (i32.add (global.get $R) (i32.const 64)) (i32.mul (local.get $i) (i32.const 64))))
  (func (export "fhgate_process") (param $n i32) (result i32)
    (local $d i32)
    (local.set $d (call $desc (i32.const 0)))
    ;; 'l'en
    (if (i32.eq (global.get $mode) (i32.const 108)) (then
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (i32.store offset=4 (local.get $d) (i32.const 0x7fffffff))
      (return (local.get $n))))
    ;; 'v'erdict
    (if (i32.eq (global.get $mode) (i32.const 118)) (then
      (i32.store8 offset=12 (local.get $d) (i32.const 9))
      (return (local.get $n))))
    ;; 'c'ount
    (if (i32.eq (global.get $mode) (i32.const 99)) (then
      (return (i32.const 1000))))
    ;; 'o'rigin
    (if (i32.eq (global.get $mode) (i32.const 111)) (then
      (local.set $d (call $desc (local.get $n)))
      (i32.store offset=0 (local.get $d) (i32.const 8256))
      (i32.store offset=4 (local.get $d) (i32.const 64))
      (i32.store8 offset=12 (local.get $d) (i32.const 3))
      (i32.store16 offset=20 (local.get $d) (local.get $n))
      (return (i32.add (local.get $n) (i32.const 1)))))
    ;; 'r'ange
    (if (i32.eq (global.get $mode) (i32.const 114)) (then
      (i32.store8 offset=12 (local.get $d) (i32.const 2))
      (i32.store offset=0 (local.get $d) (i32.const 0x7fffff00))
      (return (local.get $n))))
    (local.get $n))
  (@custom "fhgate.meta" "name=garbage_output\nversion=1\n")
)
