;; noop: forwards every packet untouched. The smallest translator that
;; follows translators/ABI.md v2; the host overhead benchmark runs it, so
;; what it measures is the host's cost per burst and nothing else.
(module
  ;; The I/O region (2 113 600 bytes) starts at 64 KiB, so address 0 stays
  ;; unused; 34 pages (2 228 224 bytes) hold it.
  (memory (export "memory") 34)

  (func (export "fhgate_abi_version") (result i32)
    i32.const 2)

  (func (export "fhgate_io") (result i32)
    i32.const 65536)

  ;; No configuration keys: any configuration is accepted and ignored.
  (func (export "fhgate_init") (param $cfg_ptr i32) (param $cfg_len i32) (result i32)
    i32.const 0)

  ;; Every input already carries verdict FORWARD (the host sets it), so
  ;; there is nothing to write: n inputs, n outputs.
  (func (export "fhgate_process") (param $n i32) (result i32)
    local.get $n)

  ;; ABI.md §5. wasmtime's parser keeps this annotation; wat2wasm 1.0.32
  ;; drops it, so scripts/build-translators appends the section itself.
  (@custom "fhgate.meta" "name=noop\nversion=1.0.0\nplanes=any\ndirections=any\ntypes=any\n"))
