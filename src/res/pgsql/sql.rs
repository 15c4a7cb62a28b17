//! SQL text for realtime requests and CDR rows. Tables and columns are always quoted as
//! identifiers and values are always parameters (`$1`, `$2`, …): nothing from a request is
//! ever read as SQL. Values go to the server as text and the server converts them to the
//! column's type (an `integer` `regseconds`, a `bigint` `mailbox`), as Asterisk's quoted
//! literals are; an empty value for a column that is not text is NULL.
//!
//! Rows come back as one JSON object per row (`row_to_json`), which keeps the table's
//! column order and turns every type into text without knowing the types in advance.

use crate::pbx::realtime::{parse_field, CompareOp, Fields, RealtimeError};
use tokio_postgres::types::{to_sql_checked, Format, IsNull, ToSql, Type};

/// `"name"` with inner quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table as an identifier: `schema.table` (Asterisk's pgsql accepts one) becomes
/// `"schema"."table"`.
pub fn table_ident(table: &str) -> Result<String, RealtimeError> {
    let table = table.trim();
    if table.is_empty() {
        return Err(RealtimeError::Invalid(
            "PostgreSQL RealTime: No table specified.".into(),
        ));
    }
    Ok(match table.split_once('.') {
        Some((schema, t)) if !schema.is_empty() && !t.is_empty() => {
            format!("{}.{}", ident(schema), ident(t))
        }
        _ => ident(table),
    })
}

fn column_ident(column: &str) -> Result<String, RealtimeError> {
    let c = column.trim();
    if c.is_empty() {
        return Err(RealtimeError::Invalid("empty realtime column name".into()));
    }
    Ok(ident(c))
}

/// A parameter sent as text; the server parses it as the type it expects there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextParam(pub String);

/// Types whose empty text is a value (for the others, empty is NULL).
fn is_textual(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || ty.name().eq_ignore_ascii_case("citext")
}

impl ToSql for TextParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.0.is_empty() && !is_textual(ty) {
            return Ok(IsNull::Yes);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }
    to_sql_checked!();
}

/// SQL text with its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<TextParam>,
}

impl Statement {
    fn bind(&mut self, value: &str) -> String {
        self.params.push(TextParam(value.to_string()));
        format!("${}", self.params.len())
    }

    /// `"col" op $n` for one filter field. LIKE compares the column as text (an integer
    /// `mailbox LIKE '10%'` works); a backslash escapes `%` and `_`, as in Asterisk.
    fn condition(&mut self, field: &str, value: &str) -> Result<String, RealtimeError> {
        let (column, op) = parse_field(field)?;
        let p = self.bind(value);
        Ok(match op {
            CompareOp::Like | CompareOp::NotLike => {
                format!("{}::text {} {p} ESCAPE '\\'", ident(column), op.as_sql())
            }
            _ => format!("{} {} {p}", ident(column), op.as_sql()),
        })
    }

    fn conditions(&mut self, filter: &[(String, String)]) -> Result<String, RealtimeError> {
        if filter.is_empty() {
            return Err(RealtimeError::Invalid(
                "PostgreSQL RealTime: realtime retrieval requires at least 1 parameter and 1 value to search on.".into(),
            ));
        }
        let parts: Result<Vec<String>, _> =
            filter.iter().map(|(f, v)| self.condition(f, v)).collect();
        Ok(parts?.join(" AND "))
    }

    fn assignments(&mut self, set: &[(String, String)]) -> Result<String, RealtimeError> {
        if set.is_empty() {
            return Err(RealtimeError::Invalid(
                "PostgreSQL RealTime: update without fields to set".into(),
            ));
        }
        let parts: Result<Vec<String>, _> = set
            .iter()
            .map(|(c, v)| Ok(format!("{} = {}", column_ident(c)?, self.bind(v))))
            .collect();
        Ok(parts?.join(", "))
    }

    /// The rows matching `filter`, as JSON objects; `one` limits to the first,
    /// `order_by_first` sorts by the first filter column (Asterisk's multi-row default).
    pub fn select(
        table: &str,
        filter: &[(String, String)],
        one: bool,
        order_by_first: bool,
    ) -> Result<Statement, RealtimeError> {
        let mut q = Statement::default();
        let t = table_ident(table)?;
        let cond = q.conditions(filter)?;
        q.sql = format!("SELECT row_to_json(t)::text FROM {t} AS t WHERE {cond}");
        if one {
            q.sql.push_str(" LIMIT 1");
        } else if order_by_first {
            let (first, _) = parse_field(&filter[0].0)?;
            q.sql.push_str(&format!(" ORDER BY {}", ident(first)));
        }
        Ok(q)
    }

    /// `UPDATE … SET … WHERE …`.
    pub fn update(
        table: &str,
        lookup: &[(String, String)],
        set: &[(String, String)],
    ) -> Result<Statement, RealtimeError> {
        let mut q = Statement::default();
        let t = table_ident(table)?;
        let assignments = q.assignments(set)?;
        let cond = q.conditions(lookup)?;
        q.sql = format!("UPDATE {t} SET {assignments} WHERE {cond}");
        Ok(q)
    }

    /// `INSERT INTO … (…) VALUES (…)`.
    pub fn insert(table: &str, fields: &[(String, String)]) -> Result<Statement, RealtimeError> {
        if fields.is_empty() {
            return Err(RealtimeError::Invalid(
                "PostgreSQL RealTime: store without fields".into(),
            ));
        }
        let mut q = Statement::default();
        let t = table_ident(table)?;
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for (c, v) in fields {
            cols.push(column_ident(c)?);
            vals.push(q.bind(v));
        }
        q.sql = format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            cols.join(", "),
            vals.join(", ")
        );
        Ok(q)
    }

    /// `DELETE FROM … WHERE …`.
    pub fn delete(table: &str, filter: &[(String, String)]) -> Result<Statement, RealtimeError> {
        let mut q = Statement::default();
        let t = table_ident(table)?;
        let cond = q.conditions(filter)?;
        q.sql = format!("DELETE FROM {t} WHERE {cond}");
        Ok(q)
    }

    /// The parameters as the driver takes them.
    pub fn param_refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The columns of a table, in order: name, type (`format_type`), NOT NULL. `$1` is the
/// table as an identifier (see [`table_ident`]).
pub const COLUMNS_SQL: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef \
     FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// One row (a `row_to_json` object) as realtime fields, in the table's column order. As
/// Asterisk's engine, NULL and empty columns are left out; booleans read as PostgreSQL
/// prints them (`t`/`f`), numbers as their digits.
pub fn row_fields(json: &str) -> Result<Fields, RealtimeError> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| RealtimeError::Backend(format!("unreadable row from PostgreSQL: {e}")))?;
    let mut out = Fields::new();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(b) => (if b { "t" } else { "f" }).to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        if text.is_empty() {
            continue;
        }
        out.push((k, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn values(q: &Statement) -> Vec<&str> {
        q.params.iter().map(|p| p.0.as_str()).collect()
    }

    #[test]
    fn select_binds_every_value_and_quotes_names() {
        let q = Statement::select("sippeers", &f(&[("name", "1001")]), true, true).unwrap();
        assert_eq!(
            q.sql,
            "SELECT row_to_json(t)::text FROM \"sippeers\" AS t WHERE \"name\" = $1 LIMIT 1"
        );
        assert_eq!(values(&q), ["1001"]);
        let q = Statement::select(
            "public.sippeers",
            &f(&[
                ("name LIKE", "10%"),
                ("regseconds <", "5"),
                ("host !=", "x"),
            ]),
            false,
            true,
        )
        .unwrap();
        assert_eq!(
            q.sql,
            "SELECT row_to_json(t)::text FROM \"public\".\"sippeers\" AS t WHERE \"name\"::text LIKE $1 ESCAPE '\\' AND \"regseconds\" < $2 AND \"host\" != $3 ORDER BY \"name\""
        );
        assert_eq!(values(&q), ["10%", "5", "x"]);
        let q = Statement::select("x", &f(&[("a", "1")]), false, false).unwrap();
        assert!(!q.sql.contains("ORDER BY"), "{}", q.sql);
    }

    #[test]
    fn hostile_names_and_values_stay_names_and_values() {
        let q = Statement::select(
            "sip\"; DROP TABLE cdr; --",
            &f(&[("na\"me", "'; DROP TABLE cdr; --")]),
            true,
            false,
        )
        .unwrap();
        assert_eq!(
            q.sql,
            "SELECT row_to_json(t)::text FROM \"sip\"\"; DROP TABLE cdr; --\" AS t WHERE \"na\"\"me\" = $1 LIMIT 1"
        );
        assert_eq!(values(&q), ["'; DROP TABLE cdr; --"]);
        // An operator that is not one of the known ones is refused, not pasted.
        assert!(matches!(
            Statement::select("t", &f(&[("name = 1 OR 1 =", "1")]), true, false),
            Err(RealtimeError::BadOperator { .. })
        ));
        assert!(Statement::select("", &f(&[("a", "1")]), true, false).is_err());
        assert!(Statement::select("t", &[], true, false).is_err());
    }

    #[test]
    fn update_insert_delete() {
        let q = Statement::update(
            "sippeers",
            &f(&[("name", "1001")]),
            &f(&[("ipaddr", "127.0.0.1"), ("regseconds", "1700000000")]),
        )
        .unwrap();
        assert_eq!(
            q.sql,
            "UPDATE \"sippeers\" SET \"ipaddr\" = $1, \"regseconds\" = $2 WHERE \"name\" = $3"
        );
        assert_eq!(values(&q), ["127.0.0.1", "1700000000", "1001"]);
        assert!(Statement::update("t", &f(&[("a", "1")]), &[]).is_err());
        let q = Statement::insert("cdr", &f(&[("src", "1001"), ("billsec", "5")])).unwrap();
        assert_eq!(
            q.sql,
            "INSERT INTO \"cdr\" (\"src\", \"billsec\") VALUES ($1, $2)"
        );
        assert!(Statement::insert("cdr", &[]).is_err());
        let q = Statement::delete(
            "voicemail",
            &f(&[("mailbox", "1001"), ("context", "default")]),
        )
        .unwrap();
        assert_eq!(
            q.sql,
            "DELETE FROM \"voicemail\" WHERE \"mailbox\" = $1 AND \"context\" = $2"
        );
    }

    #[test]
    fn rows_keep_column_order_and_skip_nulls() {
        let r = row_fields(
            r#"{"name":"1001","port":5060,"host":null,"secret":"","nat":true,"rtp":1.5,"lastms":0}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            f(&[
                ("name", "1001"),
                ("port", "5060"),
                ("nat", "t"),
                ("rtp", "1.5"),
                ("lastms", "0")
            ])
        );
        assert!(row_fields("not json").is_err());
    }

    #[test]
    fn text_params_send_empty_as_null_for_non_text_columns() {
        let mut buf = bytes::BytesMut::new();
        let p = TextParam(String::new());
        assert!(matches!(p.to_sql(&Type::INT8, &mut buf), Ok(IsNull::Yes)));
        assert!(matches!(p.to_sql(&Type::VARCHAR, &mut buf), Ok(IsNull::No)));
        let p = TextParam("42".into());
        assert!(matches!(p.to_sql(&Type::INT4, &mut buf), Ok(IsNull::No)));
        assert_eq!(&buf[..], b"42");
        assert!(matches!(p.encode_format(&Type::INT4), Format::Text));
        assert!(<TextParam as ToSql>::accepts(&Type::TIMESTAMPTZ));
    }
}
