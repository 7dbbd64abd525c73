//! The PTP common message header (IEEE 1588-2019 §13.3, the same layout
//! as 1588-2008), as a zero-copy view and a decoded `Repr`. Only the
//! header is decoded: a transparent clock reads the message type, the
//! flags, the sequence and source port, and rewrites correctionField.
//! `locate` finds the message in a frame, `tc` is the transparent clock.

use core::fmt;

pub mod locate;
pub mod tc;

/// Byte ranges of the common header (§13.3.1, Table 35).
pub mod field {
    use core::ops::Range;
    /// transportSpecific / majorSdoId (high nibble) and messageType (low nibble).
    pub const TYPE: usize = 0;
    /// minorVersionPTP (high nibble) and versionPTP (low nibble).
    pub const VERSION: usize = 1;
    /// messageLength: the whole message, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// domainNumber.
    pub const DOMAIN: usize = 4;
    /// minorSdoId (1588-2019; reserved in 2008).
    pub const MINOR_SDO_ID: usize = 5;
    /// flagField (octet 0: twoStepFlag is bit 1).
    pub const FLAGS: Range<usize> = 6..8;
    /// correctionField: ns × 2^16, signed.
    pub const CORRECTION: Range<usize> = 8..16;
    /// messageTypeSpecific.
    pub const TYPE_SPECIFIC: Range<usize> = 16..20;
    /// sourcePortIdentity: clockIdentity (8) and portNumber (2).
    pub const SOURCE_PORT: Range<usize> = 20..30;
    /// sequenceId.
    pub const SEQUENCE_ID: Range<usize> = 30..32;
    /// controlField (1588-2008; deprecated in 2019).
    pub const CONTROL: usize = 32;
    /// logMessageInterval.
    pub const LOG_INTERVAL: usize = 33;
    /// Length of the common header.
    pub const HEADER_LEN: usize = 34;
}

/// twoStepFlag in the first octet of flagField (§13.3.2.8, Table 37).
pub const FLAG_TWO_STEP: u16 = 0x0200;

/// messageType (§13.3.2.2, Table 36).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Sync (event).
    Sync,
    /// Delay_Req (event).
    DelayReq,
    /// Pdelay_Req (event).
    PdelayReq,
    /// Pdelay_Resp (event).
    PdelayResp,
    /// Follow_Up (general).
    FollowUp,
    /// Delay_Resp (general).
    DelayResp,
    /// Pdelay_Resp_Follow_Up (general).
    PdelayRespFollowUp,
    /// Announce (general).
    Announce,
    /// Signaling (general).
    Signaling,
    /// Management (general).
    Management,
}

impl MessageType {
    /// The type for a messageType nibble; `None` for reserved values.
    pub fn from_nibble(v: u8) -> Option<MessageType> {
        use MessageType::*;
        Some(match v {
            0x0 => Sync,
            0x1 => DelayReq,
            0x2 => PdelayReq,
            0x3 => PdelayResp,
            0x8 => FollowUp,
            0x9 => DelayResp,
            0xA => PdelayRespFollowUp,
            0xB => Announce,
            0xC => Signaling,
            0xD => Management,
            _ => return None,
        })
    }

    /// The messageType nibble.
    pub fn nibble(self) -> u8 {
        use MessageType::*;
        match self {
            Sync => 0x0,
            DelayReq => 0x1,
            PdelayReq => 0x2,
            PdelayResp => 0x3,
            FollowUp => 0x8,
            DelayResp => 0x9,
            PdelayRespFollowUp => 0xA,
            Announce => 0xB,
            Signaling => 0xC,
            Management => 0xD,
        }
    }

    /// Event messages are timestamped on the wire (types 0-3).
    pub fn is_event(self) -> bool {
        self.nibble() < 4
    }

    /// The shortest messageLength the type allows (§13.6-13.11: header plus
    /// its fixed body; Signaling and Management carry at least a target port).
    pub fn min_len(self) -> usize {
        use MessageType::*;
        match self {
            Sync | DelayReq | FollowUp => 44,
            PdelayReq | PdelayResp | DelayResp | PdelayRespFollowUp => 54,
            Announce => 64,
            Signaling | Management => 44,
        }
    }

    /// The name Wireshark and IEEE 1588 give it.
    pub fn name(self) -> &'static str {
        use MessageType::*;
        match self {
            Sync => "Sync",
            DelayReq => "Delay_Req",
            PdelayReq => "Pdelay_Req",
            PdelayResp => "Pdelay_Resp",
            FollowUp => "Follow_Up",
            DelayResp => "Delay_Resp",
            PdelayRespFollowUp => "Pdelay_Resp_Follow_Up",
            Announce => "Announce",
            Signaling => "Signaling",
            Management => "Management",
        }
    }
}

/// Why a PTP message is malformed: the field and its byte offset in the
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the common header.
    Truncated {
        /// Bytes there are.
        len: usize,
    },
    /// versionPTP is not 2.
    Version {
        /// The value found.
        value: u8,
    },
    /// messageType is a reserved value.
    MessageType {
        /// The value found.
        value: u8,
    },
    /// messageLength is shorter than the type needs or longer than the bytes there are.
    Length {
        /// messageLength as declared.
        declared: usize,
        /// Bytes there are.
        actual: usize,
        /// The least the type needs.
        min: usize,
    },
}

impl Error {
    /// The header field at fault, as Wireshark names it.
    pub fn field(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "ptp.header",
            Error::Version { .. } => "ptp.v2.versionptp",
            Error::MessageType { .. } => "ptp.v2.messagetype",
            Error::Length { .. } => "ptp.v2.messagelength",
        }
    }

    /// Its byte offset in the message.
    pub fn offset(&self) -> usize {
        match self {
            Error::Truncated { .. } => 0,
            Error::Version { .. } => field::VERSION,
            Error::MessageType { .. } => field::TYPE,
            Error::Length { .. } => field::LENGTH.start,
        }
    }

    /// A short stable name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::Version { .. } => "version",
            Error::MessageType { .. } => "message_type",
            Error::Length { .. } => "length",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: ", self.field(), self.offset())?;
        match self {
            Error::Truncated { len } => write!(f, "{len} bytes, shorter than the {}-byte header", field::HEADER_LEN),
            Error::Version { value } => write!(f, "version {value}, not 2"),
            Error::MessageType { value } => write!(f, "reserved message type {value:#x}"),
            Error::Length { declared, actual, min } => write!(f, "messageLength {declared} with {actual} bytes present (at least {min} needed)"),
        }
    }
}

/// A zero-copy view of a PTP message: the common header, length-checked.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the common header is present; every accessor below reads inside it.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let len = buffer.as_ref().len();
        if len < field::HEADER_LEN {
            return Err(Error::Truncated { len });
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        u16::from_be_bytes([self.b()[r.start], self.b()[r.start + 1]])
    }

    /// transportSpecific (majorSdoId in 1588-2019).
    pub fn major_sdo_id(&self) -> u8 {
        self.b()[field::TYPE] >> 4
    }

    /// The messageType nibble.
    pub fn message_type(&self) -> u8 {
        self.b()[field::TYPE] & 0xF
    }

    /// versionPTP.
    pub fn version(&self) -> u8 {
        self.b()[field::VERSION] & 0xF
    }

    /// minorVersionPTP.
    pub fn minor_version(&self) -> u8 {
        self.b()[field::VERSION] >> 4
    }

    /// messageLength.
    pub fn message_length(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    /// domainNumber.
    pub fn domain(&self) -> u8 {
        self.b()[field::DOMAIN]
    }

    /// minorSdoId.
    pub fn minor_sdo_id(&self) -> u8 {
        self.b()[field::MINOR_SDO_ID]
    }

    /// flagField.
    pub fn flags(&self) -> u16 {
        self.be16(field::FLAGS)
    }

    /// correctionField: ns × 2^16.
    pub fn correction(&self) -> i64 {
        let mut c = [0; 8];
        c.copy_from_slice(&self.b()[field::CORRECTION]);
        i64::from_be_bytes(c)
    }

    /// messageTypeSpecific.
    pub fn type_specific(&self) -> [u8; 4] {
        let mut v = [0; 4];
        v.copy_from_slice(&self.b()[field::TYPE_SPECIFIC]);
        v
    }

    /// sourcePortIdentity: clockIdentity then portNumber.
    pub fn source_port(&self) -> [u8; 10] {
        let mut v = [0; 10];
        v.copy_from_slice(&self.b()[field::SOURCE_PORT]);
        v
    }

    /// sequenceId.
    pub fn sequence_id(&self) -> u16 {
        self.be16(field::SEQUENCE_ID)
    }

    /// controlField.
    pub fn control(&self) -> u8 {
        self.b()[field::CONTROL]
    }

    /// logMessageInterval.
    pub fn log_interval(&self) -> i8 {
        self.b()[field::LOG_INTERVAL] as i8
    }

    /// The message body after the common header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[field::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets transportSpecific / majorSdoId and messageType.
    pub fn set_type(&mut self, major_sdo_id: u8, message_type: u8) {
        self.bm()[field::TYPE] = major_sdo_id << 4 | (message_type & 0xF);
    }

    /// Sets minorVersionPTP and versionPTP.
    pub fn set_version(&mut self, minor: u8, version: u8) {
        self.bm()[field::VERSION] = minor << 4 | (version & 0xF);
    }

    /// Sets messageLength.
    pub fn set_message_length(&mut self, v: u16) {
        self.bm()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets domainNumber.
    pub fn set_domain(&mut self, v: u8) {
        self.bm()[field::DOMAIN] = v;
    }

    /// Sets minorSdoId.
    pub fn set_minor_sdo_id(&mut self, v: u8) {
        self.bm()[field::MINOR_SDO_ID] = v;
    }

    /// Sets flagField.
    pub fn set_flags(&mut self, v: u16) {
        self.bm()[field::FLAGS].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets correctionField (ns × 2^16).
    pub fn set_correction(&mut self, v: i64) {
        self.bm()[field::CORRECTION].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets messageTypeSpecific.
    pub fn set_type_specific(&mut self, v: [u8; 4]) {
        self.bm()[field::TYPE_SPECIFIC].copy_from_slice(&v);
    }

    /// Sets sourcePortIdentity.
    pub fn set_source_port(&mut self, v: [u8; 10]) {
        self.bm()[field::SOURCE_PORT].copy_from_slice(&v);
    }

    /// Sets sequenceId.
    pub fn set_sequence_id(&mut self, v: u16) {
        self.bm()[field::SEQUENCE_ID].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets controlField.
    pub fn set_control(&mut self, v: u8) {
        self.bm()[field::CONTROL] = v;
    }

    /// Sets logMessageInterval.
    pub fn set_log_interval(&mut self, v: i8) {
        self.bm()[field::LOG_INTERVAL] = v as u8;
    }
}

/// The decoded common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// transportSpecific / majorSdoId.
    pub major_sdo_id: u8,
    /// messageType.
    pub message_type: MessageType,
    /// minorVersionPTP (versionPTP is always 2).
    pub minor_version: u8,
    /// messageLength.
    pub message_length: u16,
    /// domainNumber.
    pub domain: u8,
    /// minorSdoId.
    pub minor_sdo_id: u8,
    /// flagField.
    pub flags: u16,
    /// correctionField, ns × 2^16.
    pub correction: i64,
    /// messageTypeSpecific.
    pub type_specific: [u8; 4],
    /// sourcePortIdentity.
    pub source_port: [u8; 10],
    /// sequenceId.
    pub sequence_id: u16,
    /// controlField.
    pub control: u8,
    /// logMessageInterval.
    pub log_interval: i8,
}

impl Repr {
    /// Decodes the header, checking versionPTP, the message type and that
    /// messageLength fits both the type and the bytes present.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Error> {
        if p.version() != 2 {
            return Err(Error::Version { value: p.version() });
        }
        let message_type = MessageType::from_nibble(p.message_type()).ok_or(Error::MessageType { value: p.message_type() })?;
        let declared = p.message_length() as usize;
        let actual = p.b().len();
        let min = message_type.min_len();
        if declared < min || declared > actual {
            return Err(Error::Length { declared, actual, min });
        }
        Ok(Repr {
            major_sdo_id: p.major_sdo_id(),
            message_type,
            minor_version: p.minor_version(),
            message_length: p.message_length(),
            domain: p.domain(),
            minor_sdo_id: p.minor_sdo_id(),
            flags: p.flags(),
            correction: p.correction(),
            type_specific: p.type_specific(),
            source_port: p.source_port(),
            sequence_id: p.sequence_id(),
            control: p.control(),
            log_interval: p.log_interval(),
        })
    }

    /// Whether twoStepFlag is set (a Follow_Up or Pdelay_Resp_Follow_Up carries the time).
    pub fn two_step(&self) -> bool {
        self.flags & FLAG_TWO_STEP != 0
    }

    /// Bytes `emit` writes: the common header.
    pub fn buffer_len(&self) -> usize {
        field::HEADER_LEN
    }

    /// Writes the common header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_type(self.major_sdo_id, self.message_type.nibble());
        p.set_version(self.minor_version, 2);
        p.set_message_length(self.message_length);
        p.set_domain(self.domain);
        p.set_minor_sdo_id(self.minor_sdo_id);
        p.set_flags(self.flags);
        p.set_correction(self.correction);
        p.set_type_specific(self.type_specific);
        p.set_source_port(self.source_port);
        p.set_sequence_id(self.sequence_id);
        p.set_control(self.control);
        p.set_log_interval(self.log_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-step Sync as ptp4l sends it over L2 (domain 0, seq 0x1234,
    /// correction 1.5 ns), body = originTimestamp 0; written byte by byte
    /// from IEEE 1588-2019 Table 35.
    const SYNC: [u8; 44] = [
        0x00, 0x02, 0x00, 0x2C, // Sync; v2; length 44
        0x00, 0x00, 0x02, 0x00, // domain 0, minorSdoId 0, flags: twoStepFlag
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, // correction 1.5 ns (0x18000 / 65536)
        0x00, 0x00, 0x00, 0x00, // messageTypeSpecific
        0x02, 0x11, 0x22, 0xFF, 0xFE, 0x33, 0x44, 0x55, 0x00, 0x01, // clockIdentity, port 1
        0x12, 0x34, // sequenceId
        0x00, 0x00, // controlField (Sync), logMessageInterval 0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // originTimestamp
    ];

    fn sync_repr() -> Repr {
        Repr {
            major_sdo_id: 0,
            message_type: MessageType::Sync,
            minor_version: 0,
            message_length: 44,
            domain: 0,
            minor_sdo_id: 0,
            flags: FLAG_TWO_STEP,
            correction: 0x18000,
            type_specific: [0; 4],
            source_port: [0x02, 0x11, 0x22, 0xFF, 0xFE, 0x33, 0x44, 0x55, 0x00, 0x01],
            sequence_id: 0x1234,
            control: 0,
            log_interval: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&SYNC[..]).unwrap();
        assert_eq!((p.major_sdo_id(), p.message_type(), p.version(), p.minor_version()), (0, 0, 2, 0));
        assert_eq!((p.message_length(), p.domain(), p.flags()), (44, 0, 0x0200));
        assert_eq!(p.correction(), 0x18000);
        assert_eq!(p.source_port()[9], 1);
        assert_eq!((p.sequence_id(), p.control(), p.log_interval()), (0x1234, 0, 0));
        assert_eq!(p.payload().len(), 10);
    }

    #[test]
    fn construct() {
        let mut b = [0xAAu8; 44];
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_type(0, 0);
        p.set_version(0, 2);
        p.set_message_length(44);
        p.set_domain(0);
        p.set_minor_sdo_id(0);
        p.set_flags(FLAG_TWO_STEP);
        p.set_correction(0x18000);
        p.set_type_specific([0; 4]);
        p.set_source_port([0x02, 0x11, 0x22, 0xFF, 0xFE, 0x33, 0x44, 0x55, 0x00, 0x01]);
        p.set_sequence_id(0x1234);
        p.set_control(0);
        p.set_log_interval(0);
        b[34..].fill(0);
        assert_eq!(b, SYNC);
    }

    #[test]
    fn parse_and_emit() {
        let r = Repr::parse(&Packet::new_checked(&SYNC[..]).unwrap()).unwrap();
        assert_eq!(r, sync_repr());
        assert!(r.two_step() && r.message_type.is_event());
        let mut b = [0u8; 44];
        r.emit(&mut Packet::new_checked(&mut b[..]).unwrap());
        assert_eq!(b[..r.buffer_len()], SYNC[..34]);
    }

    #[test]
    fn negative_correction_is_signed() {
        let mut b = SYNC;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_correction(-(5 << 16));
        assert_eq!(&b[8..16], &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0x00, 0x00]);
        assert_eq!(Packet::new_checked(&b[..]).unwrap().correction(), -(5 << 16));
    }

    #[test]
    fn malformed_headers_name_field_and_offset() {
        let parse = |b: &[u8]| Packet::new_checked(b).and_then(|p| Repr::parse(&p));
        assert_eq!(parse(&SYNC[..33]), Err(Error::Truncated { len: 33 }));
        let mut v1 = SYNC;
        v1[1] = 0x01;
        let e = parse(&v1).unwrap_err();
        assert_eq!((e, e.field(), e.offset()), (Error::Version { value: 1 }, "ptp.v2.versionptp", 1));
        let mut reserved = SYNC;
        reserved[0] = 0x05;
        assert_eq!(parse(&reserved), Err(Error::MessageType { value: 5 }));
        // Longer than the bytes present, and shorter than a Sync.
        assert_eq!(parse(&SYNC[..40]), Err(Error::Length { declared: 44, actual: 40, min: 44 }));
        let mut short = SYNC;
        short[3] = 34;
        let e = parse(&short).unwrap_err();
        assert_eq!((e.offset(), e.kind()), (2, "length"));
        assert!(e.to_string().contains("messageLength 34"), "{e}");
        // A Pdelay_Req needs 54 bytes.
        let mut pd = SYNC;
        pd[0] = 0x02;
        assert_eq!(parse(&pd), Err(Error::Length { declared: 44, actual: 44, min: 54 }));
    }

    #[test]
    fn every_nibble_round_trips_or_is_reserved() {
        for v in 0u8..16 {
            match MessageType::from_nibble(v) {
                Some(t) => {
                    assert_eq!(t.nibble(), v);
                    assert_eq!(t.is_event(), v < 4);
                }
                None => assert!((4..8).contains(&v) || v >= 0xE, "{v}"),
            }
        }
    }
}
