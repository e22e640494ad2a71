//! Numeric top and bottom coding at quantiles of the released data.
//!
//! **What it does.** Values above the upper bound become the bound; values below the lower bound
//! become that bound. Bounds are quantiles computed once over the rows being released.
//! **Why.** Extreme lab values are 特異な記述 (④); the guideline's example top-codes a 170 cm
//! child to 「150cm以上」.
//! **Example.** triglycerides with `upper = 0.99`: everything above the 99th percentile becomes it.
//! **Privacy notes.** The bounds are aggregates, reported so analysts know where values pile up.
//! In a long table (one row per lab result, the test's code in another column) the bounds are
//! computed per test code with [`TopBottom::bounds_by`]: quantiles pooled across tests would
//! clamp nothing that matters.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;

/// Quantile bounds; `None` leaves that side open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopBottom {
    /// Lower quantile, e.g. 0.005.
    pub lower: Option<f64>,
    /// Upper quantile, e.g. 0.995.
    pub upper: Option<f64>,
}

/// Resolved bounds for one column.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bounds {
    /// Values below become this.
    pub lower: Option<f64>,
    /// Values above become this.
    pub upper: Option<f64>,
}

impl TopBottom {
    /// Computes the bounds over column `name` of `frame` (one aggregation pass).
    pub fn bounds(&self, frame: LazyFrame, name: &str) -> PolarsResult<Bounds> {
        Ok(TopBottom::bounds_of_many(frame, &[(name, *self)])?.remove(0))
    }

    /// Computes the bounds of several columns of `frame` in one aggregation pass.
    pub fn bounds_of_many(frame: LazyFrame, rules: &[(&str, TopBottom)]) -> PolarsResult<Vec<Bounds>> {
        let quantile = |name: &str, q: f64, alias: String| {
            col(name).cast(DataType::Float64).quantile(lit(q), QuantileMethod::Nearest).alias(alias)
        };
        let mut exprs = Vec::new();
        for (i, (name, rule)) in rules.iter().enumerate() {
            if let Some(q) = rule.lower {
                exprs.push(quantile(name, q, format!("lower{i}")));
            }
            if let Some(q) = rule.upper {
                exprs.push(quantile(name, q, format!("upper{i}")));
            }
        }
        if exprs.is_empty() {
            return Ok(vec![Bounds { lower: None, upper: None }; rules.len()]);
        }
        let out = tokumei_core::collect_streaming(frame.select(exprs))?;
        let get = |alias: String| -> PolarsResult<Option<f64>> {
            match out.column(&alias) {
                Ok(c) => Ok(c.f64()?.get(0)),
                Err(_) => Ok(None),
            }
        };
        (0..rules.len())
            .map(|i| Ok(Bounds { lower: get(format!("lower{i}"))?, upper: get(format!("upper{i}"))? }))
            .collect()
    }
}

/// Bounds per value of a grouping column (each lab test's code gets its own quantiles).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBounds {
    /// The grouping column.
    pub by: String,
    /// Bounds per group value (`None`: rows without a group value).
    pub bounds: HashMap<Option<String>, Bounds>,
}

impl TopBottom {
    /// Computes the bounds of column `name` for each value of column `by` (one pass).
    pub fn bounds_by(&self, frame: LazyFrame, name: &str, by: &str) -> PolarsResult<GroupBounds> {
        const GROUP: &str = "__group";
        let quantile = |q: f64, alias: &str| {
            col(name).cast(DataType::Float64).quantile(lit(q), QuantileMethod::Nearest).alias(alias)
        };
        let mut aggregates = vec![col(name).count().alias("__n")];
        if let Some(q) = self.lower {
            aggregates.push(quantile(q, "lower"));
        }
        if let Some(q) = self.upper {
            aggregates.push(quantile(q, "upper"));
        }
        let out = tokumei_core::collect_streaming(
            frame.group_by([col(by).cast(DataType::String).alias(GROUP)]).agg(aggregates),
        )?;
        let groups = out.column(GROUP)?.str()?.clone();
        let side = |alias: &str| -> PolarsResult<Vec<Option<f64>>> {
            match out.column(alias) {
                Ok(c) => Ok(c.cast(&DataType::Float64)?.f64()?.iter().collect()),
                Err(_) => Ok(vec![None; out.height()]),
            }
        };
        let (lower, upper) = (side("lower")?, side("upper")?);
        let bounds = groups
            .iter()
            .zip(lower.into_iter().zip(upper))
            .map(|(g, (lower, upper))| (g.map(str::to_string), Bounds { lower, upper }))
            .collect();
        Ok(GroupBounds { by: by.to_string(), bounds })
    }
}

impl GroupBounds {
    /// A lazy expression clamping column `name` by the bounds of each row's group.
    pub fn expr(&self, name: &str) -> Expr {
        let bounds = Arc::new(self.bounds.clone());
        col(name).map_many(
            move |columns| {
                let dtype = columns[0].dtype().clone();
                let values = columns[0].cast(&DataType::Float64)?;
                let groups = columns[1].cast(&DataType::String)?;
                let out: Float64Chunked = values
                    .f64()?
                    .iter()
                    .zip(groups.str()?.iter())
                    .map(|(v, g)| {
                        let b = bounds.get(&g.map(str::to_string)).copied();
                        v.map(|x| b.map_or(x, |b| b.clamp(x)))
                    })
                    .collect();
                out.with_name(columns[0].name().clone()).into_column().cast(&dtype)
            },
            &[col(self.by.as_str())],
            |_, fields| Ok(fields[0].clone()),
        )
    }

    /// For reports: how many groups, and how many have a bound.
    pub fn describe(&self) -> String {
        let bounded = self.bounds.values().filter(|b| b.lower.is_some() || b.upper.is_some()).count();
        format!("quantiles per `{}`: {} groups, {bounded} with bounds", self.by, self.bounds.len())
    }
}

impl Bounds {
    /// A lazy expression clamping column `name` (kept numeric).
    pub fn expr(self, name: &str) -> Expr {
        col(name).map(
            move |column| {
                let dtype = column.dtype().clone();
                let values = column.cast(&DataType::Float64)?;
                let out: Float64Chunked = values.f64()?.iter().map(|v| v.map(|x| self.clamp(x))).collect();
                out.with_name(column.name().clone()).into_column().cast(&dtype)
            },
            |_, field| Ok(field.clone()),
        )
    }

    fn clamp(self, x: f64) -> f64 {
        let x = self.lower.map_or(x, |lo| x.max(lo));
        self.upper.map_or(x, |hi| x.min(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_quantiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let df = df!("tg" => values).unwrap();
        let bounds = TopBottom { lower: Some(0.05), upper: Some(0.95) }.bounds(df.clone().lazy(), "tg").unwrap();
        assert_eq!(bounds.lower, Some(6.0));
        assert_eq!(bounds.upper, Some(95.0));
        let out = df.lazy().with_column(bounds.expr("tg")).collect().unwrap();
        let tg = out.column("tg").unwrap().f64().unwrap();
        assert_eq!(tg.min(), Some(6.0));
        assert_eq!(tg.max(), Some(95.0));
    }

    #[test]
    fn bounds_per_group_clamp_each_test_at_its_own_quantiles() {
        // Two tests on very different scales, in one long column.
        let codes: Vec<&str> = (0..200).map(|i| if i % 2 == 0 { "glucose" } else { "hba1c" }).collect();
        let values: Vec<f64> =
            (0..200).map(|i| if i % 2 == 0 { 80.0 + f64::from(i) } else { 5.0 + f64::from(i) / 100.0 }).collect();
        let df = df!("code" => codes, "value" => values).unwrap();
        let rule = TopBottom { lower: None, upper: Some(0.9) };
        let pooled = rule.bounds(df.clone().lazy(), "value").unwrap();
        let by = rule.bounds_by(df.clone().lazy(), "value", "code").unwrap();
        assert_eq!(by.bounds.len(), 2);
        let out = df.lazy().with_column(by.expr("value")).collect().unwrap();
        let max_of = |code: &str| {
            out.clone()
                .lazy()
                .filter(col("code").eq(lit(code)))
                .collect()
                .unwrap()
                .column("value")
                .unwrap()
                .f64()
                .unwrap()
                .max()
                .unwrap()
        };
        assert_eq!(Some(max_of("glucose")), by.bounds[&Some("glucose".to_string())].upper);
        assert_eq!(Some(max_of("hba1c")), by.bounds[&Some("hba1c".to_string())].upper);
        // Pooled, no HbA1c value would reach the bound.
        assert!(pooled.upper.unwrap() > 6.99);
    }

    #[test]
    fn many_columns_in_one_pass_match_one_at_a_time() {
        let df =
            df!("a" => (0..50).map(f64::from).collect::<Vec<_>>(), "b" => (0..50).map(|x| x * 2).collect::<Vec<i64>>())
                .unwrap();
        let upper = TopBottom { lower: None, upper: Some(0.9) };
        let both = TopBottom { lower: Some(0.1), upper: Some(0.9) };
        let many = TopBottom::bounds_of_many(df.clone().lazy(), &[("a", upper), ("b", both)]).unwrap();
        assert_eq!(many[0], upper.bounds(df.clone().lazy(), "a").unwrap());
        assert_eq!(many[1], both.bounds(df.lazy(), "b").unwrap());
        assert_eq!(many[0].lower, None);
    }
}
