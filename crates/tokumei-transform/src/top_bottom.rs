//! Numeric top and bottom coding at quantiles of the released data.
//!
//! **What it does.** Values above the upper bound become the bound; values below the lower bound
//! become that bound. Bounds are quantiles computed once over the rows being released.
//! **Why.** Extreme lab values are 特異な記述 (④); the guideline's example top-codes a 170 cm
//! child to 「150cm以上」.
//! **Example.** triglycerides with `upper = 0.99`: everything above the 99th percentile becomes it.
//! **Privacy notes.** The bounds are aggregates, reported so analysts know where values pile up.

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
        let quantile = |q: f64, alias: &str| {
            col(name).cast(DataType::Float64).quantile(lit(q), QuantileMethod::Nearest).alias(alias)
        };
        let mut exprs = Vec::new();
        if let Some(q) = self.lower {
            exprs.push(quantile(q, "lower"));
        }
        if let Some(q) = self.upper {
            exprs.push(quantile(q, "upper"));
        }
        if exprs.is_empty() {
            return Ok(Bounds { lower: None, upper: None });
        }
        let out = frame.select(exprs).collect()?;
        let get = |alias: &str| -> PolarsResult<Option<f64>> {
            match out.column(alias) {
                Ok(c) => Ok(c.f64()?.get(0)),
                Err(_) => Ok(None),
            }
        };
        Ok(Bounds { lower: get("lower")?, upper: get("upper")? })
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
}
