//! Pieces every area's SQL uses: `IN (...)` lists of bound values.

use sqlx::QueryBuilder;

use super::Db;

pub(super) fn push_in_strings(qb: &mut QueryBuilder<'_, Db>, items: &[String]) {
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for item in items {
        list.push_bind(item.clone());
    }
    list.push_unseparated(")");
}

pub(super) fn push_in_ids(qb: &mut QueryBuilder<'_, Db>, ids: &[i64]) {
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}
