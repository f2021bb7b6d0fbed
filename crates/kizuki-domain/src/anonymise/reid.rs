//! Re-identification check: a case with every name removed still points at its operator when
//! the sector, region and period it reveals fit only one or two organisations (k-anonymity
//! over those three attributes).

use crate::error::FieldError;
use crate::org::{OrgKind, Organisation};
use crate::taxonomy::{Code, Lang};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An operator as the check sees it. Unknown region or dates are treated as *not* matching
/// a disclosed value: counting an organisation we cannot place would flatter the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgProfile {
    pub key: String,
    pub sectors: Vec<Code>,
    pub region: Option<Code>,
    /// When it became (and stopped being) a participating operator; open when `None`.
    pub active_from: Option<NaiveDate>,
    pub active_until: Option<NaiveDate>,
}

impl OrgProfile {
    /// Operators only: ministries, the centre and vendors are not who a case is about.
    pub fn from_org(o: &Organisation) -> Option<OrgProfile> {
        (o.org.kind == OrgKind::Operator).then(|| OrgProfile {
            key: o.org.key.clone(),
            sectors: o.org.sectors.clone(),
            region: o.org.region.clone(),
            active_from: None,
            active_until: None,
        })
    }
}

/// What the published case reveals; `None` where it reveals nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosed {
    pub sector: Option<Code>,
    pub region: Option<Code>,
    period: Option<(NaiveDate, NaiveDate)>,
}

impl Disclosed {
    pub fn new(
        sector: Option<Code>,
        region: Option<Code>,
        period: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Disclosed, FieldError> {
        if let Some((s, e)) = period
            && e < s
        {
            return Err(FieldError::invalid(
                "period",
                "期間の終わりが始まりより前です / the period ends before it starts",
            ));
        }
        Ok(Disclosed {
            sector,
            region,
            period,
        })
    }

    pub fn period(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.period
    }

    fn shared_by(&self, o: &OrgProfile) -> bool {
        let sector = self.sector.as_ref().is_none_or(|s| o.sectors.contains(s));
        let region = self
            .region
            .as_ref()
            .is_none_or(|r| o.region.as_ref() == Some(r));
        let period = self.period.is_none_or(|(s, e)| {
            o.active_from.is_none_or(|f| f <= e) && o.active_until.is_none_or(|u| u >= s)
        });
        sector && region && period
    }

    fn without(&self, a: Attribute) -> Option<Disclosed> {
        let mut d = self.clone();
        let had = match a {
            Attribute::Sector => d.sector.take().is_some(),
            Attribute::Region => d.region.take().is_some(),
            Attribute::Period => d.period.take().is_some(),
        };
        had.then_some(d)
    }
}

/// One of the attributes a case may reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    Sector,
    Region,
    Period,
}

impl Attribute {
    pub const ALL: [Attribute; 3] = [Attribute::Sector, Attribute::Region, Attribute::Period];

    pub fn label_ja(self) -> &'static str {
        self.label(Lang::Ja)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Attribute::Sector, Lang::Ja) => "分野",
            (Attribute::Sector, Lang::En) => "the sector",
            (Attribute::Region, Lang::Ja) => "地域",
            (Attribute::Region, Lang::En) => "the region",
            (Attribute::Period, Lang::Ja) => "期間",
            (Attribute::Period, Lang::En) => "the period",
        }
    }
}

/// How many organisations must share what a case reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReidPolicy {
    k: usize,
}

impl Default for ReidPolicy {
    fn default() -> Self {
        ReidPolicy { k: 3 }
    }
}

impl ReidPolicy {
    pub fn new(k: usize) -> Result<ReidPolicy, FieldError> {
        if k < 2 {
            // k = 1 would never warn, which is a way of switching the check off unseen.
            return Err(FieldError::new(
                "k",
                crate::error::FieldErrorKind::OutOfRange {
                    min: 2,
                    max: i64::MAX,
                },
            ));
        }
        Ok(ReidPolicy { k })
    }

    pub fn k(&self) -> usize {
        self.k
    }
}

/// The result: how many share the combination and what leaving one attribute out would give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReidCheck {
    pub k: usize,
    pub matching: usize,
    pub warn: bool,
    /// For each revealed attribute, the count if it were left out of the publication.
    pub without: Vec<(Attribute, usize)>,
}

impl ReidCheck {
    /// The warning for the review screen, or `None` when the case is safe.
    pub fn message_ja(&self) -> Option<String> {
        self.message(Lang::Ja)
    }

    /// [`ReidCheck::message_ja`] in `lang`.
    pub fn message(&self, lang: Lang) -> Option<String> {
        if !self.warn {
            return None;
        }
        let mut m = match lang {
            Lang::Ja => format!(
                "公開する分野・地域・期間の組合せに該当する重要インフラ事業者が{}組織しかありません（{}組織以上が必要）。",
                self.matching, self.k
            ),
            Lang::En => format!(
                "Only {} operators share the sector, region and period this case reveals ({} or more are needed).",
                self.matching, self.k
            ),
        };
        for (a, n) in &self.without {
            if *n >= self.k {
                m.push_str(&match lang {
                    Lang::Ja => format!("{}を伏せると{}組織になります。", a.label_ja(), n),
                    Lang::En => format!(" Without {} they would be {n}.", a.label(lang)),
                });
            }
        }
        Some(m)
    }
}

pub fn check_reidentification(
    disclosed: &Disclosed,
    directory: &[OrgProfile],
    policy: &ReidPolicy,
) -> ReidCheck {
    let count = |d: &Disclosed| directory.iter().filter(|o| d.shared_by(o)).count();
    let matching = count(disclosed);
    let without = Attribute::ALL
        .into_iter()
        .filter_map(|a| disclosed.without(a).map(|d| (a, count(&d))))
        .collect();
    ReidCheck {
        k: policy.k,
        matching,
        warn: matching < policy.k,
        without,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(key: &str, sector: &str, region: Option<&str>) -> OrgProfile {
        OrgProfile {
            key: key.into(),
            sectors: vec![Code(sector.into())],
            region: region.map(|r| Code(r.into())),
            active_from: None,
            active_until: None,
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dir() -> Vec<OrgProfile> {
        let mut late = org("rail-new", "railway", Some("kanto"));
        late.active_from = Some(d(2020, 4, 1));
        vec![
            org("rail-1", "railway", Some("kanto")),
            org("rail-2", "railway", Some("kanto")),
            org("rail-3", "railway", Some("kinki")),
            org("rail-4", "railway", None),
            late,
            org("gas-1", "gas", Some("kanto")),
        ]
    }

    #[test]
    fn too_few_sharing_the_combination_warns_with_a_way_out() {
        let disclosed = Disclosed::new(
            Some(Code("railway".into())),
            Some(Code("kanto".into())),
            Some((d(2019, 1, 1), d(2019, 12, 31))),
        )
        .unwrap();
        let r = check_reidentification(&disclosed, &dir(), &ReidPolicy::default());
        // rail-new joined after the period; rail-4's region is unknown and does not count.
        assert_eq!(r.matching, 2);
        assert!(r.warn);
        assert_eq!(
            r.without,
            vec![
                (Attribute::Sector, 3),
                (Attribute::Region, 4),
                (Attribute::Period, 3)
            ]
        );
        let msg = r.message_ja().unwrap();
        assert!(msg.contains("2組織しかありません"), "{msg}");
        assert!(msg.contains("地域を伏せると4組織"), "{msg}");
    }

    #[test]
    fn enough_sharing_is_quiet_and_k_is_configurable() {
        let disclosed = Disclosed::new(Some(Code("railway".into())), None, None).unwrap();
        let r = check_reidentification(&disclosed, &dir(), &ReidPolicy::default());
        assert_eq!(r.matching, 5);
        assert!(!r.warn);
        assert_eq!(r.message_ja(), None);
        let strict = ReidPolicy::new(6).unwrap();
        assert!(check_reidentification(&disclosed, &dir(), &strict).warn);
        assert_eq!(ReidPolicy::new(1).unwrap_err().field, "k");
        assert_eq!(
            Disclosed::new(None, None, Some((d(2019, 2, 1), d(2019, 1, 1))))
                .unwrap_err()
                .field,
            "period"
        );
    }
}
