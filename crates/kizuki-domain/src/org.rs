//! Organisations in the directory: operators, ministries, the centre and vendors.

use crate::error::{FieldError, ValidationErrors, text};
use crate::ids::OrgId;
use crate::taxonomy::{Code, Taxonomy, Vocabulary};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 重要インフラ事業者
    Operator,
    /// 所管省庁
    Ministry,
    /// The coordinating centre.
    Centre,
    /// システムベンダ
    Vendor,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Operator,
        OrgKind::Ministry,
        OrgKind::Centre,
        OrgKind::Vendor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Ministry => "ministry",
            OrgKind::Centre => "centre",
            OrgKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// An organisation as entered, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrganisation {
    /// A short stable key (e.g. `demo-rail`), unique in the directory.
    pub key: String,
    pub name: String,
    pub kind: OrgKind,
    /// Operators belong to one sector; a ministry lists the sectors it oversees.
    pub sectors: Vec<Code>,
    pub region: Option<Code>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrgId,
    pub version: i64,
    #[serde(flatten)]
    pub org: NewOrganisation,
}

impl NewOrganisation {
    pub fn parse(self, tx: &Taxonomy) -> Result<NewOrganisation, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let key = self.key.trim().to_owned();
        if key.is_empty()
            || key.len() > 40
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            errs.push(FieldError::invalid(
                "key",
                "key must be 1-40 lower-case ASCII letters, digits or '-'",
            ));
        }
        let name = text(&mut errs, "name", &self.name, true, 120);
        for (i, s) in self.sectors.iter().enumerate() {
            tx.check(
                &mut errs,
                &format!("sectors[{i}]"),
                Vocabulary::Sector,
                s.as_str(),
            );
        }
        if self.kind == OrgKind::Operator && self.sectors.len() != 1 {
            errs.push(FieldError::invalid(
                "sectors",
                "an operator belongs to exactly one sector",
            ));
        }
        if let Some(r) = &self.region {
            tx.check(&mut errs, "region", Vocabulary::Region, r.as_str());
        }
        errs.into_result(NewOrganisation { key, name, ..self })
    }
}
