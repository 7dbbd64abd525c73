//! A visitor over decoded fields, keyed by Wireshark's display-filter
//! names. `inspect --json` and the tshark oracle tests both walk a frame
//! through it, so the names are written once, next to each `Repr`.

/// One decoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// An unsigned integer field.
    U(u64),
    /// A signed integer field (two's complement on the wire).
    I(i64),
    /// A one-bit flag.
    Bool(bool),
    /// Raw bytes (IQ data, unknown payloads).
    Bytes(&'a [u8]),
    /// A symbolic value (a method or type name).
    Str(&'static str),
}

/// Receives the fields of a frame in wire order.
///
/// `begin`/`end` bracket a repeated group (a section, an extension, a
/// PRB) so that a consumer can build nested output.
pub trait FieldVisitor<'a> {
    /// A field and its value. `name` is Wireshark's filter name where one
    /// exists (`oran_fh_cus.startPrbu`), or one in the same style.
    fn field(&mut self, name: &'static str, value: FieldValue<'a>);
    /// Starts a group such as `sections` or `extensions`.
    fn begin(&mut self, group: &'static str);
    /// Ends the innermost group.
    fn end(&mut self);
}

/// Something that can describe itself field by field.
pub trait VisitFields<'a> {
    /// Walks every field in wire order.
    fn visit_fields<V: FieldVisitor<'a>>(&self, v: &mut V);
}
