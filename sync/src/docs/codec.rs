//! Typed access to Automerge maps: the small read and write helpers every
//! schema module is built from, and the raw view used to diff documents.
//!
//! Readers are lenient about what they do not know (extra keys are ignored,
//! a missing list reads as empty) and strict about what they do (a wrong type
//! or an unknown code is an error naming the field). Writers reconcile: they
//! only emit an operation when the stored value differs, so writing back an
//! unchanged document produces no change at all and touches no field that
//! the write rules would have to judge.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value};

use crate::error::SchemaError;

/// Reads fields of one map object.
#[derive(Debug)]
pub(crate) struct MapRead<'a> {
    doc: &'a AutoCommit,
    obj: ObjId,
    path: String,
}

impl<'a> MapRead<'a> {
    pub(crate) fn root(doc: &'a AutoCommit) -> Self {
        MapRead {
            doc,
            obj: ROOT,
            path: String::new(),
        }
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, key: &str, expected: &'static str) -> SchemaError {
        SchemaError::WrongType {
            field: self.path_of(key),
            expected,
        }
    }

    fn missing(&self, key: &str) -> SchemaError {
        SchemaError::Missing {
            field: self.path_of(key),
        }
    }

    fn get(&self, key: &str) -> Result<Option<(Value<'a>, ObjId)>, SchemaError> {
        Ok(self.doc.get(&self.obj, key)?)
    }

    /// The scalar under `key`; `None` when absent or null.
    fn scalar(&self, key: &str) -> Result<Option<Cow<'a, ScalarValue>>, SchemaError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::Scalar(value), _)) if value.is_null() => Ok(None),
            Some((Value::Scalar(value), _)) => Ok(Some(value)),
            Some((Value::Object(_), _)) => Err(self.wrong_type(key, "a scalar")),
        }
    }

    pub(crate) fn has(&self, key: &str) -> Result<bool, SchemaError> {
        Ok(self.get(key)?.is_some())
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<String>, SchemaError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(value) => match value.as_ref() {
                ScalarValue::Str(s) => Ok(Some(s.to_string())),
                _ => Err(self.wrong_type(key, "a string")),
            },
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<String, SchemaError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_i64(&self, key: &str) -> Result<Option<i64>, SchemaError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(value) => match *value {
                ScalarValue::Int(n) | ScalarValue::Timestamp(n) => Ok(Some(n)),
                ScalarValue::Uint(n) => i64::try_from(n)
                    .map(Some)
                    .map_err(|_| SchemaError::invalid(self.path_of(key), "out of range")),
                _ => Err(self.wrong_type(key, "an integer")),
            },
        }
    }

    pub(crate) fn i64(&self, key: &str) -> Result<i64, SchemaError> {
        self.opt_i64(key)?.ok_or_else(|| self.missing(key))
    }

    /// A non-negative integer that fits `T`.
    pub(crate) fn uint<T: TryFrom<i64>>(&self, key: &str) -> Result<T, SchemaError> {
        T::try_from(self.i64(key)?)
            .map_err(|_| SchemaError::invalid(self.path_of(key), "out of range"))
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, SchemaError> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(value) => match *value {
                ScalarValue::F64(n) if n.is_finite() => Ok(Some(n)),
                ScalarValue::F64(_) => Err(SchemaError::invalid(self.path_of(key), "not finite")),
                // Peers written in JavaScript store whole numbers as integers.
                #[allow(clippy::cast_precision_loss)]
                ScalarValue::Int(n) => Ok(Some(n as f64)),
                _ => Err(self.wrong_type(key, "a number")),
            },
        }
    }

    pub(crate) fn f64(&self, key: &str) -> Result<f64, SchemaError> {
        self.opt_f64(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, SchemaError> {
        match self.scalar(key)? {
            None => Err(self.missing(key)),
            Some(value) => match *value {
                ScalarValue::Boolean(b) => Ok(b),
                _ => Err(self.wrong_type(key, "a boolean")),
            },
        }
    }

    pub(crate) fn opt_parse<T>(&self, key: &str) -> Result<Option<T>, SchemaError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.opt_str(key)?
            .map(|s| {
                s.parse()
                    .map_err(|e| SchemaError::invalid(self.path_of(key), e))
            })
            .transpose()
    }

    pub(crate) fn parse<T>(&self, key: &str) -> Result<T, SchemaError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.opt_parse(key)?.ok_or_else(|| self.missing(key))
    }

    /// Collaborative text. A plain string is accepted too: it is how older
    /// schema versions and some peers store text.
    pub(crate) fn text(&self, key: &str) -> Result<String, SchemaError> {
        match self.get(key)? {
            Some((Value::Object(ObjType::Text), id)) => Ok(self.doc.text(&id)?),
            Some((Value::Scalar(value), _)) => match value.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(self.wrong_type(key, "text")),
            },
            Some(_) => Err(self.wrong_type(key, "text")),
            None => Err(self.missing(key)),
        }
    }

    pub(crate) fn opt_map(&self, key: &str) -> Result<Option<MapRead<'a>>, SchemaError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::Object(ObjType::Map), obj)) => Ok(Some(MapRead {
                doc: self.doc,
                obj,
                path: self.path_of(key),
            })),
            Some(_) => Err(self.wrong_type(key, "a map")),
        }
    }

    pub(crate) fn map(&self, key: &str) -> Result<MapRead<'a>, SchemaError> {
        self.opt_map(key)?.ok_or_else(|| self.missing(key))
    }

    fn list(&self, key: &str) -> Result<Option<ObjId>, SchemaError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::Object(ObjType::List), obj)) => Ok(Some(obj)),
            Some(_) => Err(self.wrong_type(key, "a list")),
        }
    }

    /// A list of string-coded values (ids, codes). Absent reads as empty.
    pub(crate) fn parse_list<T>(&self, key: &str) -> Result<Vec<T>, SchemaError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some(list) = self.list(key)? else {
            return Ok(Vec::new());
        };
        (0..self.doc.length(&list))
            .map(|index| {
                let path = format!("{}[{index}]", self.path_of(key));
                match self.doc.get(&list, index)? {
                    Some((Value::Scalar(value), _)) => match value.as_ref() {
                        ScalarValue::Str(s) => s.parse().map_err(|e| SchemaError::invalid(path, e)),
                        _ => Err(SchemaError::WrongType {
                            field: path,
                            expected: "a string",
                        }),
                    },
                    _ => Err(SchemaError::WrongType {
                        field: path,
                        expected: "a string",
                    }),
                }
            })
            .collect()
    }

    /// A list of records. Absent reads as empty.
    pub(crate) fn map_list<T>(
        &self,
        key: &str,
        mut read: impl FnMut(&MapRead<'a>) -> Result<T, SchemaError>,
    ) -> Result<Vec<T>, SchemaError> {
        let Some(list) = self.list(key)? else {
            return Ok(Vec::new());
        };
        (0..self.doc.length(&list))
            .map(|index| {
                let path = format!("{}[{index}]", self.path_of(key));
                match self.doc.get(&list, index)? {
                    Some((Value::Object(ObjType::Map), obj)) => read(&MapRead {
                        doc: self.doc,
                        obj,
                        path,
                    }),
                    _ => Err(SchemaError::WrongType {
                        field: path,
                        expected: "a map",
                    }),
                }
            })
            .collect()
    }
}

/// Writes fields of one map object, emitting operations only for differences.
#[derive(Debug)]
pub(crate) struct MapWrite<'a> {
    doc: &'a mut AutoCommit,
    obj: ObjId,
}

impl<'a> MapWrite<'a> {
    pub(crate) fn root(doc: &'a mut AutoCommit) -> Self {
        MapWrite { doc, obj: ROOT }
    }

    /// Whether `key` holds exactly `value`, without a concurrent conflict.
    fn holds(&self, key: &str, value: &ScalarValue) -> Result<bool, SchemaError> {
        let all = self.doc.get_all(&self.obj, key)?;
        Ok(matches!(all.as_slice(), [(Value::Scalar(current), _)] if current.as_ref() == value))
    }

    pub(crate) fn put(
        &mut self,
        key: &str,
        value: impl Into<ScalarValue>,
    ) -> Result<(), SchemaError> {
        let value = value.into();
        if !self.holds(key, &value)? {
            self.doc.put(&self.obj, key, value)?;
        }
        Ok(())
    }

    pub(crate) fn put_display(
        &mut self,
        key: &str,
        value: &impl Display,
    ) -> Result<(), SchemaError> {
        self.put(key, value.to_string())
    }

    /// Writes `value`, or removes the key for `None`.
    pub(crate) fn put_opt(
        &mut self,
        key: &str,
        value: Option<impl Into<ScalarValue>>,
    ) -> Result<(), SchemaError> {
        match value {
            Some(value) => self.put(key, value),
            None => {
                if self.doc.get(&self.obj, key)?.is_some() {
                    self.doc.delete(&self.obj, key)?;
                }
                Ok(())
            }
        }
    }

    pub(crate) fn put_opt_display(
        &mut self,
        key: &str,
        value: Option<&impl Display>,
    ) -> Result<(), SchemaError> {
        self.put_opt(key, value.map(ToString::to_string))
    }

    /// The object of type `kind` under `key`, created (replacing whatever was
    /// there) if absent or of another type.
    fn object(&mut self, key: &str, kind: ObjType) -> Result<ObjId, SchemaError> {
        match self.doc.get(&self.obj, key)? {
            Some((Value::Object(found), id)) if found == kind => Ok(id),
            _ => Ok(self.doc.put_object(&self.obj, key, kind)?),
        }
    }

    /// Collaborative text: edits are computed as a character diff against
    /// the stored text, so concurrent edits of other parts merge.
    pub(crate) fn text(&mut self, key: &str, value: &str) -> Result<(), SchemaError> {
        let text = self.object(key, ObjType::Text)?;
        if self.doc.text(&text)? != value {
            self.doc.update_text(&text, value)?;
        }
        Ok(())
    }

    pub(crate) fn map(&mut self, key: &str) -> Result<MapWrite<'_>, SchemaError> {
        let obj = self.object(key, ObjType::Map)?;
        Ok(MapWrite { doc: self.doc, obj })
    }

    /// A list of string-coded values, edited by common prefix and suffix so
    /// that an append stays an append.
    pub(crate) fn display_list<T: Display>(
        &mut self,
        key: &str,
        values: &[T],
    ) -> Result<(), SchemaError> {
        let list = self.object(key, ObjType::List)?;
        let wanted: Vec<String> = values.iter().map(ToString::to_string).collect();
        let current: Vec<Option<String>> = (0..self.doc.length(&list))
            .map(|index| {
                Ok(match self.doc.get(&list, index)? {
                    Some((Value::Scalar(value), _)) => value.as_str().map(str::to_owned),
                    _ => None,
                })
            })
            .collect::<Result<_, SchemaError>>()?;
        let prefix = current
            .iter()
            .zip(&wanted)
            .take_while(|(have, want)| have.as_deref() == Some(want.as_str()))
            .count();
        let suffix = current[prefix..]
            .iter()
            .rev()
            .zip(wanted[prefix..].iter().rev())
            .take_while(|(have, want)| have.as_deref() == Some(want.as_str()))
            .count();
        for _ in prefix..current.len() - suffix {
            self.doc.delete(&list, prefix)?;
        }
        for (offset, value) in wanted[prefix..wanted.len() - suffix].iter().enumerate() {
            self.doc.insert(&list, prefix + offset, value.as_str())?;
        }
        Ok(())
    }

    /// A list of records keyed by the string under `id_key`. Records keep
    /// their Automerge identity across edits, so a concurrent edit of one
    /// record's field and a reorder elsewhere both survive a merge.
    pub(crate) fn keyed_list<T>(
        &mut self,
        key: &str,
        id_key: &str,
        items: &[T],
        id_of: impl Fn(&T) -> String,
        mut write: impl FnMut(&mut MapWrite<'_>, &T) -> Result<(), SchemaError>,
    ) -> Result<(), SchemaError> {
        let list = self.object(key, ObjType::List)?;
        let id_at = |doc: &AutoCommit, index: usize| -> Result<Option<String>, SchemaError> {
            Ok(match doc.get(&list, index)? {
                Some((Value::Object(ObjType::Map), item)) => match doc.get(&item, id_key)? {
                    Some((Value::Scalar(id), _)) => id.as_str().map(str::to_owned),
                    _ => None,
                },
                _ => None,
            })
        };
        for (index, item) in items.iter().enumerate() {
            let wanted = id_of(item);
            loop {
                let len = self.doc.length(&list);
                if index < len && id_at(self.doc, index)?.as_deref() == Some(wanted.as_str()) {
                    break;
                }
                let later = (index + 1..len)
                    .map(|at| id_at(self.doc, at))
                    .collect::<Result<Vec<_>, _>>()?
                    .contains(&Some(wanted.clone()));
                if later {
                    // Whatever sits here is gone or moved behind the wanted record.
                    self.doc.delete(&list, index)?;
                } else {
                    self.doc.insert_object(&list, index, ObjType::Map)?;
                    break;
                }
            }
            let Some((_, obj)) = self.doc.get(&list, index)? else {
                return Err(SchemaError::Missing {
                    field: format!("{key}[{index}]"),
                });
            };
            let mut record = MapWrite { doc: self.doc, obj };
            record.put(id_key, wanted)?;
            write(&mut record, item)?;
        }
        while self.doc.length(&list) > items.len() {
            self.doc.delete(&list, items.len())?;
        }
        Ok(())
    }
}

/// A schema-agnostic view of a stored value, used to tell which root fields
/// two versions of a document differ in. Conflicting concurrent values are
/// kept, so a change that only adds a losing value is still seen, and
/// objects carry their identity, so replacing an object with an identical
/// copy (which would orphan concurrent edits of the original) is seen too.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Scalar(ScalarValue),
    Text(ObjId, String),
    Map(ObjId, BTreeMap<String, Raw>),
    List(ObjId, Vec<Raw>),
    Conflict(Vec<Raw>),
}

/// Every root field of `doc` in raw form.
pub(crate) fn raw_root(doc: &AutoCommit) -> Result<BTreeMap<String, Raw>, SchemaError> {
    raw_map(doc, &ROOT)
}

fn raw_map(doc: &AutoCommit, obj: &ObjId) -> Result<BTreeMap<String, Raw>, SchemaError> {
    doc.keys(obj)
        .map(|key| {
            let value = raw_prop(doc, obj, key.as_str().into())?;
            Ok((key, value))
        })
        .collect()
}

fn raw_prop(doc: &AutoCommit, obj: &ObjId, prop: Prop) -> Result<Raw, SchemaError> {
    let mut values = doc
        .get_all(obj, prop)?
        .into_iter()
        .map(|(value, id)| raw_value(doc, value, &id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if values.len() == 1 {
        values.remove(0)
    } else {
        Raw::Conflict(values)
    })
}

fn raw_value(doc: &AutoCommit, value: Value<'_>, id: &ObjId) -> Result<Raw, SchemaError> {
    Ok(match value {
        Value::Scalar(scalar) => Raw::Scalar(scalar.into_owned()),
        Value::Object(ObjType::Text) => Raw::Text(id.clone(), doc.text(id)?),
        Value::Object(ObjType::Map | ObjType::Table) => Raw::Map(id.clone(), raw_map(doc, id)?),
        Value::Object(ObjType::List) => Raw::List(
            id.clone(),
            (0..doc.length(id))
                .map(|index| raw_prop(doc, id, index.into()))
                .collect::<Result<_, _>>()?,
        ),
    })
}
