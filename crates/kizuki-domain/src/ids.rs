//! Typed identifiers, so a report id can never be passed where an organisation id belongs.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An organisation in the directory.
    OrgId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An information report (情報連絡).
    ReportId
);
id_type!(
    /// A written case (調査対象事例).
    CaseId
);
id_type!(
    /// An interview (ヒアリング) with the operator of a selected case.
    InterviewId
);
id_type!(
    /// An operator's follow-up item for one countermeasure of a case.
    FollowUpId
);
