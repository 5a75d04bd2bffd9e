//! Typed reads of `plans.json` fields whose errors name the file, the field's full path and the
//! value found.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Typed access to a JSON object's fields with errors naming the file and the field.
pub(super) struct Fields<'a> {
    pub(super) path: &'a Path,
    pub(super) obj: &'a Value,
    pub(super) prefix: String,
}

impl Fields<'_> {
    pub(super) fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub(super) fn err(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        Error::invalid(self.path, format!("{} {msg}", self.name(key)))
    }

    pub(super) fn get(&self, key: &str) -> Result<&Value> {
        self.obj.get(key).ok_or_else(|| self.err(key, "is missing"))
    }

    pub(super) fn str(&self, key: &str) -> Result<&str> {
        let v = self.get(key)?;
        v.as_str()
            .ok_or_else(|| self.err(key, format!("must be a string, got {v}")))
    }

    pub(super) fn f64s<const N: usize>(&self, key: &str) -> Result<[f64; N]> {
        let v = self.get(key)?;
        let a: Option<Vec<f64>> = v
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect());
        match a {
            Some(a) if a.len() == N && a.iter().all(|x| x.is_finite() && *x > 0.0) => {
                Ok(std::array::from_fn(|i| a[i]))
            }
            _ => Err(self.err(key, format!("must be {N} positive numbers, got {v}"))),
        }
    }

    pub(super) fn usizes<const N: usize>(&self, key: &str) -> Result<[usize; N]> {
        usizes::<N>(self.get(key)?).ok_or_else(|| {
            self.err(
                key,
                format!("must be {N} positive integers, got {}", self.obj[key]),
            )
        })
    }
}

pub(super) fn usizes<const N: usize>(v: &Value) -> Option<[usize; N]> {
    let a: Vec<u64> = v
        .as_array()?
        .iter()
        .map(Value::as_u64)
        .collect::<Option<_>>()?;
    (a.len() == N && a.iter().all(|&x| (1..=1 << 20).contains(&x)))
        .then(|| std::array::from_fn(|i| a[i] as usize))
}
