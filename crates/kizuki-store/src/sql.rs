//! SQL that both backends share in shape: the report list's filters and order, and the TLP
//! visibility rule as a filter (so lists, counts and single reads agree). It is written once
//! here; a small [`Dialect`] says how each backend spells placeholders and lists, and the
//! backend binds the [`SqlValue`]s in order.

use crate::{ReportFilter, ReportSort};
use kizuki_domain::access::ReportVisibility;

/// A bound parameter, typed as the column it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// `SMALLINT` columns (severity).
    I16(i16),
    /// `INTEGER` columns (fiscal year).
    I32(i32),
    /// `BIGINT` columns (ids).
    I64(i64),
    Text(String),
    /// A list compared with `IN`, for a backend that binds a list as one array.
    I64List(Vec<i64>),
    TextList(Vec<String>),
}

/// How a backend spells what differs.
pub trait Dialect {
    /// The placeholder of the `n`th parameter, from 1 (`?1`, `$1`).
    fn placeholder(&self, n: usize) -> String;
    /// Whether a list is bound as one array parameter (`= ANY($1)`) rather than one
    /// parameter per element (`IN (?1, ?2)`).
    fn binds_arrays(&self) -> bool;
}

/// A WHERE clause (with the word, or empty) and its parameters in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Where {
    pub sql: String,
    pub args: Vec<SqlValue>,
}

struct Builder<'a, D: Dialect + ?Sized> {
    d: &'a D,
    args: Vec<SqlValue>,
}

impl<D: Dialect + ?Sized> Builder<'_, D> {
    fn arg(&mut self, v: SqlValue) -> String {
        self.args.push(v);
        self.d.placeholder(self.args.len())
    }

    /// `col IN (…)` over `values`; an empty list matches nothing.
    fn in_list(&mut self, col: &str, values: Vec<SqlValue>) -> String {
        if values.is_empty() {
            return "FALSE".into();
        }
        if self.d.binds_arrays() {
            let list = if values.iter().all(|v| matches!(v, SqlValue::I64(_))) {
                SqlValue::I64List(
                    values
                        .into_iter()
                        .filter_map(|v| match v {
                            SqlValue::I64(i) => Some(i),
                            _ => None,
                        })
                        .collect(),
                )
            } else {
                SqlValue::TextList(
                    values
                        .into_iter()
                        .filter_map(|v| match v {
                            SqlValue::Text(t) => Some(t),
                            _ => None,
                        })
                        .collect(),
                )
            };
            return format!("{col} = ANY({})", self.arg(list));
        }
        let marks: Vec<String> = values.into_iter().map(|v| self.arg(v)).collect();
        format!("{col} IN ({})", marks.join(", "))
    }
}

/// The report list's WHERE clause for `filter`, the visibility rule included.
pub fn report_where(filter: &ReportFilter, d: &dyn Dialect) -> Where {
    let mut b = Builder {
        d,
        args: Vec::new(),
    };
    let mut wh: Vec<String> = Vec::new();
    if let Some(fy) = filter.fiscal_year {
        wh.push(format!("fiscal_year = {}", b.arg(SqlValue::I32(fy))));
    }
    if let Some(fy) = filter.occurred_fiscal_year {
        wh.push(format!("occurred_fy = {}", b.arg(SqlValue::I32(fy))));
    }
    if let Some(s) = &filter.sector {
        wh.push(format!("sector = {}", b.arg(SqlValue::Text(s.clone()))));
    }
    if let Some(s) = &filter.event_type {
        wh.push(format!("event_type = {}", b.arg(SqlValue::Text(s.clone()))));
    }
    if let Some(s) = &filter.cause {
        wh.push(format!(
            "EXISTS (SELECT 1 FROM report_causes rc WHERE rc.report_id = reports.id \
             AND rc.cause = {})",
            b.arg(SqlValue::Text(s.clone()))
        ));
    }
    if let Some(s) = filter.severity {
        wh.push(format!("severity = {}", b.arg(SqlValue::I16(i16::from(s)))));
    }
    if let Some(s) = filter.status {
        wh.push(format!(
            "status = {}",
            b.arg(SqlValue::Text(s.code().into()))
        ));
    }
    if let Some(t) = filter.tlp {
        wh.push(format!("tlp = {}", b.arg(SqlValue::Text(t.code().into()))));
    }
    if let Some(o) = filter.org_id {
        wh.push(format!("org_id = {}", b.arg(SqlValue::I64(o.0))));
    }
    if let Some(orgs) = &filter.visible_orgs {
        let ids = orgs.iter().map(|o| SqlValue::I64(o.0)).collect();
        wh.push(b.in_list("org_id", ids));
    }
    if let Some(vis) = &filter.visibility {
        wh.push(visibility(&mut b, vis));
    }
    Where {
        sql: if wh.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wh.join(" AND "))
        },
        args: b.args,
    }
}

/// The visibility rule: any of its clauses, each all of its conditions. No clause matches
/// nothing (fail closed).
fn visibility<D: Dialect + ?Sized>(b: &mut Builder<'_, D>, vis: &ReportVisibility) -> String {
    let mut any = Vec::new();
    for c in &vis.clauses {
        if c.labels.is_empty() {
            continue;
        }
        let labels = c
            .labels
            .iter()
            .map(|t| SqlValue::Text(t.code().into()))
            .collect();
        let mut all = vec![b.in_list("tlp", labels)];
        if let Some(o) = c.org {
            all.push(format!("org_id = {}", b.arg(SqlValue::I64(o.0))));
        }
        if let Some(sectors) = &c.sectors {
            let list = sectors
                .iter()
                .map(|s| SqlValue::Text(s.0.clone()))
                .collect();
            all.push(b.in_list("sector", list));
        }
        if let Some(o) = c.shared_with {
            all.push(format!(
                "EXISTS (SELECT 1 FROM report_shares s WHERE s.report_id = reports.id \
                 AND s.org_id = {})",
                b.arg(SqlValue::I64(o.0))
            ));
        }
        if let Some(u) = c.recipient {
            all.push(format!(
                "EXISTS (SELECT 1 FROM report_recipients rr WHERE rr.report_id = reports.id \
                 AND rr.user_id = {})",
                b.arg(SqlValue::I64(u.0))
            ));
        }
        if c.published_only {
            // Reports carry no publication flag yet, so "published only" matches nothing.
            all.push("FALSE".into());
        }
        any.push(format!("({})", all.join(" AND ")));
    }
    if any.is_empty() {
        "FALSE".into()
    } else {
        format!("({})", any.join(" OR "))
    }
}

/// The report list's ORDER BY terms (without the words), ties broken by id so pages never
/// overlap.
pub fn report_order(sort: ReportSort) -> &'static str {
    match sort {
        ReportSort::ReportedDesc => "reported_at DESC, id DESC",
        ReportSort::ReportedAsc => "reported_at ASC, id ASC",
        ReportSort::SeverityDesc => "severity DESC NULLS LAST, reported_at DESC, id DESC",
        ReportSort::UpdatedDesc => "updated_at DESC, id DESC",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::ids::OrgId;

    struct Numbered;
    impl Dialect for Numbered {
        fn placeholder(&self, n: usize) -> String {
            format!("?{n}")
        }
        fn binds_arrays(&self) -> bool {
            false
        }
    }

    struct Arrays;
    impl Dialect for Arrays {
        fn placeholder(&self, n: usize) -> String {
            format!("${n}")
        }
        fn binds_arrays(&self) -> bool {
            true
        }
    }

    #[test]
    fn an_empty_filter_has_no_where_and_lists_expand_by_dialect() {
        assert_eq!(
            report_where(&ReportFilter::default(), &Numbered),
            Where::default()
        );
        let f = ReportFilter {
            sector: Some("railway".into()),
            visible_orgs: Some(vec![OrgId(3), OrgId(5)]),
            ..ReportFilter::default()
        };
        let w = report_where(&f, &Numbered);
        assert_eq!(w.sql, "WHERE sector = ?1 AND org_id IN (?2, ?3)");
        assert_eq!(
            w.args,
            vec![
                SqlValue::Text("railway".into()),
                SqlValue::I64(3),
                SqlValue::I64(5)
            ]
        );
        let w = report_where(&f, &Arrays);
        assert_eq!(w.sql, "WHERE sector = $1 AND org_id = ANY($2)");
        assert_eq!(w.args[1], SqlValue::I64List(vec![3, 5]));
    }

    #[test]
    fn an_empty_list_or_rule_matches_nothing() {
        let f = ReportFilter {
            visible_orgs: Some(vec![]),
            visibility: Some(ReportVisibility { clauses: vec![] }),
            ..ReportFilter::default()
        };
        for d in [&Numbered as &dyn Dialect, &Arrays] {
            let w = report_where(&f, d);
            assert_eq!(w.sql, "WHERE FALSE AND FALSE");
            assert!(w.args.is_empty());
        }
    }
}
