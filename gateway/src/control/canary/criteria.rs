//! Promotion criteria of a canary: `fields<=udCompHdrWidth,evm<=-60,faults=0,packets>=10000`.
//!
//! Clauses, comma-separated, each `KEY OP VALUE`; a key not given takes
//! its default, the strictest:
//! - `fields<=NAME|NAME...` (or `fields=none`): the only fields allowed to
//!   differ, by Wireshark name (`oran_fh_cus.udCompHdrWidth`, or the part
//!   after the last dot). Default: none. Data only one side has (PRBs,
//!   sections) is never allowed.
//! - `evm<=DB`: the worst flow's IQ error of the candidate against the
//!   active chain. Default: the IQ must be identical.
//! - `faults<=N` (or `faults=N`): candidate faults. Default 0.
//! - `mismatches<=N`: packets the two chains gave other verdicts
//!   (dropped, forwarded, modified, extras). Default 0.
//! - `packets>=N`: compared packets before a decision. Default 10 000.

use std::fmt;

use super::shadow::Tally;
use crate::diff::Plane;

/// When a canary may be promoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// Field names allowed to differ.
    pub fields: Vec<String>,
    /// Worst EVM allowed, dB; `None`: identical IQ.
    pub evm_db: Option<f64>,
    /// Candidate faults allowed.
    pub faults: u64,
    /// Verdict mismatches allowed.
    pub mismatches: u64,
    /// Packets compared before deciding.
    pub packets: u64,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria { fields: Vec::new(), evm_db: None, faults: 0, mismatches: 0, packets: 10_000 }
    }
}

/// Why criteria text was refused: the clause and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriteriaError {
    /// A clause without an operator (`<=`, `>=`, `=`).
    NoOperator {
        /// The clause.
        clause: String,
    },
    /// A key this syntax does not have.
    UnknownKey {
        /// The key given.
        key: String,
    },
    /// A key with an operator it does not take.
    Operator {
        /// The key.
        key: &'static str,
        /// The operator given.
        op: String,
        /// The operators it takes.
        expected: &'static str,
    },
    /// A value that does not parse for its key.
    Value {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A key given twice.
    Twice {
        /// The key.
        key: &'static str,
    },
}

impl fmt::Display for CriteriaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CriteriaError::NoOperator { clause } => write!(f, "`{clause}`: expected KEY<=VALUE, KEY>=VALUE or KEY=VALUE"),
            CriteriaError::UnknownKey { key } => write!(f, "{key}: unknown key; expected fields, evm, faults, mismatches, packets"),
            CriteriaError::Operator { key, op, expected } => write!(f, "{key}: `{op}` is not its operator; expected {expected}"),
            CriteriaError::Value { key, value, expected } => write!(f, "{key}: `{value}` is not {expected}"),
            CriteriaError::Twice { key } => write!(f, "{key}: given twice"),
        }
    }
}

impl CriteriaError {
    /// The key it is about, for an API error's field (`promote_when.evm`).
    pub fn key(&self) -> &str {
        match self {
            CriteriaError::NoOperator { .. } => "",
            CriteriaError::UnknownKey { key } => key,
            CriteriaError::Operator { key, .. } | CriteriaError::Value { key, .. } | CriteriaError::Twice { key } => key,
        }
    }
}

impl Criteria {
    /// Parses the clause list (empty: all defaults).
    pub fn parse(s: &str) -> Result<Criteria, CriteriaError> {
        let mut c = Criteria::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for clause in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let at = clause.find(['<', '>', '=']).ok_or_else(|| CriteriaError::NoOperator { clause: clause.into() })?;
            let key = clause[..at].trim();
            let rest = &clause[at..];
            let (op, value) = ["<=", ">=", "="].iter().find_map(|o| rest.strip_prefix(o).map(|v| (*o, v.trim()))).unwrap_or((&rest[..1], rest[1..].trim()));
            let key: &'static str = match key {
                "fields" => "fields",
                "evm" => "evm",
                "faults" => "faults",
                "mismatches" => "mismatches",
                "packets" => "packets",
                _ => return Err(CriteriaError::UnknownKey { key: key.into() }),
            };
            if seen.contains(&key) {
                return Err(CriteriaError::Twice { key });
            }
            seen.push(key);
            let op_ok = |allowed: &[&str], expected: &'static str| -> Result<(), CriteriaError> {
                if allowed.contains(&op) {
                    Ok(())
                } else {
                    Err(CriteriaError::Operator { key, op: op.into(), expected })
                }
            };
            let count = |expected: &'static str| value.parse::<u64>().map_err(|_| CriteriaError::Value { key, value: value.into(), expected });
            match key {
                // As documented: `fields<=NAME|NAME...` or `fields=none`, nothing else.
                "fields" if op == "=" => {
                    if value != "none" {
                        return Err(CriteriaError::Value { key, value: value.into(), expected: "none (fields=none; names go after fields<=)" });
                    }
                    c.fields.clear();
                }
                "fields" => {
                    op_ok(&["<="], "<= (or =none)")?;
                    let names: Vec<String> = value.split('|').map(|n| n.trim().to_string()).collect();
                    if names.iter().any(|n| n.is_empty() || n == "none" || !n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '_')) {
                        return Err(CriteriaError::Value { key, value: value.into(), expected: "field names separated by | (none is not a name: fields=none)" });
                    }
                    c.fields = names;
                }
                "evm" => {
                    op_ok(&["<="], "<=")?;
                    c.evm_db = Some(value.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| CriteriaError::Value { key, value: value.into(), expected: "a number of dB" })?);
                }
                "faults" => {
                    op_ok(&["<=", "="], "<= or =")?;
                    c.faults = count("a count")?;
                }
                "mismatches" => {
                    op_ok(&["<=", "="], "<= or =")?;
                    c.mismatches = count("a count")?;
                }
                _ => {
                    op_ok(&[">="], ">=")?;
                    c.packets = count("a count")?;
                }
            }
        }
        Ok(c)
    }

    /// Whether `name` (a Wireshark field name) may differ.
    pub fn allows(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f == name || name.rsplit('.').next() == Some(f.as_str()))
    }

    /// What `t` says now: promote, abort (a criterion that can no longer
    /// hold, or one that failed once enough packets were compared), or wait.
    pub fn judge(&self, t: &Tally) -> Decision {
        if t.candidate_faults > self.faults {
            return Decision::Abort(format!("faults: the candidate faulted {} times (at most {})", t.candidate_faults, self.faults));
        }
        if t.mismatches > self.mismatches {
            return Decision::Abort(format!("mismatches: {} packets got another verdict (at most {})", t.mismatches, self.mismatches));
        }
        for (id, f) in &t.flows {
            if let Some(((name, a, b), _)) = f.fields.iter().find(|((n, _, _), _)| !self.allows(n)) {
                return Decision::Abort(format!("fields: {name} differs ({a} -> {b}) on {}", flow(id)));
            }
            if f.missing + f.extra > 0 {
                return Decision::Abort(format!("fields: {} data only the active chain has, {} only the candidate has, on {}", f.missing, f.extra, flow(id)));
            }
        }
        if t.packets < self.packets {
            return Decision::Wait(format!("packets: {} of {} compared", t.packets, self.packets));
        }
        let worst = t.flows.iter().filter(|(id, _)| id.plane == Plane::U).filter_map(|(id, f)| f.iq.evm_db().map(|e| (e, id))).max_by(|x, y| x.0.total_cmp(&y.0));
        match (worst, self.evm_db) {
            (Some((e, id)), None) => Decision::Abort(format!("evm: the IQ differs on {} (EVM {e:.2} dB; give evm<=DB to allow it)", flow(id))),
            (Some((e, id)), Some(max)) if e > max => Decision::Abort(format!("evm: {e:.2} dB on {} (at most {max} dB)", flow(id))),
            _ => Decision::Promote,
        }
    }
}

/// What the criteria say.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every criterion holds over enough packets.
    Promote,
    /// One cannot hold: why.
    Abort(String),
    /// Not enough packets yet: how many.
    Wait(String),
}

/// `dl U eAxC 0x0001`.
pub fn flow(id: &crate::diff::FlowId) -> String {
    format!("{} {} eAxC 0x{:04x}", if id.direction == 1 { "dl" } else { "ul" }, if id.plane == Plane::U { "U" } else { "C" }, id.eaxc_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_names_the_one_at_fault() {
        let c = Criteria::parse("fields<=udCompHdrWidth|oran_fh_cus.iqWidth, evm<=-60,faults=0,packets>=100,mismatches<=2").unwrap();
        assert_eq!(c, Criteria { fields: vec!["udCompHdrWidth".into(), "oran_fh_cus.iqWidth".into()], evm_db: Some(-60.0), faults: 0, mismatches: 2, packets: 100 });
        assert!(c.allows("oran_fh_cus.udCompHdrWidth") && c.allows("oran_fh_cus.iqWidth") && !c.allows("oran_fh_cus.udCompHdrMeth"));
        assert_eq!(Criteria::parse("").unwrap(), Criteria::default());
        assert_eq!(Criteria::parse("evm<=abc").unwrap_err(), CriteriaError::Value { key: "evm", value: "abc".into(), expected: "a number of dB" });
        assert_eq!(Criteria::parse("evm>=-60").unwrap_err().key(), "evm");
        assert_eq!(Criteria::parse("speed<=3").unwrap_err(), CriteriaError::UnknownKey { key: "speed".into() });
        assert_eq!(Criteria::parse("packets>=1,packets>=2").unwrap_err(), CriteriaError::Twice { key: "packets" });
        assert!(matches!(Criteria::parse("faults").unwrap_err(), CriteriaError::NoOperator { .. }));
        assert_eq!(Criteria::parse("fields<=a b").unwrap_err().key(), "fields");
    }

    #[test]
    fn fields_takes_names_after_le_and_only_none_after_eq() {
        assert_eq!(Criteria::parse("fields=none").unwrap().fields, Vec::<String>::new());
        assert_eq!(Criteria::parse("fields<=udCompHdrWidth").unwrap().fields, vec!["udCompHdrWidth".to_string()]);
        for bad in ["fields<=none|x", "fields<=none", "fields<=x|none"] {
            assert!(matches!(Criteria::parse(bad), Err(CriteriaError::Value { key: "fields", .. })), "{bad}");
        }
        for bad in ["fields=udCompHdrWidth", "fields=x|y", "fields="] {
            assert!(matches!(Criteria::parse(bad), Err(CriteriaError::Value { key: "fields", .. })), "{bad}");
        }
        assert!(matches!(Criteria::parse("fields>=x"), Err(CriteriaError::Operator { key: "fields", .. })));
    }
}
