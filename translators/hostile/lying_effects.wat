;; lying_effects: declares at init that it widens DL BFP from 9 to 12 bits
;; (ABI.md §6 `effect`), then forwards every packet untouched: its output
;; contradicts its declaration. The host reads the egress format from the
;; declaration, so every U-plane message it forwards is a `bad_output`
;; egress error counted on its flow. With a configuration (any key) it
;; declares a line the host refuses instead, and init fails.
(module
  (import "fhgate" "effect" (func $effect (param i32 i32) (result i32)))
  (memory (export "memory") 34)
  (data (i32.const 1024) "dl_comp bfp:9 -> bfp:12")
  (data (i32.const 1100) "mtu 1500 -> 9000")

  (func (export "fhgate_abi_version") (result i32)
    i32.const 2)

  (func (export "fhgate_io") (result i32)
    i32.const 65536)

  (func (export "fhgate_init") (param $cfg_ptr i32) (param $cfg_len i32) (result i32)
    local.get $cfg_len
    if (result i32)
      ;; A field the host does not know: refused (-1), and init fails with 4.
      (call $effect (i32.const 1100) (i32.const 16))
      drop
      i32.const 4
    else
      (call $effect (i32.const 1024) (i32.const 23))
      drop
      i32.const 0
    end)

  (func (export "fhgate_process") (param $n i32) (result i32)
    local.get $n)

  (@custom "fhgate.meta" "name=lying_effects\nversion=1.0.0\nplanes=u\ndirections=any\ntypes=0\n"))
