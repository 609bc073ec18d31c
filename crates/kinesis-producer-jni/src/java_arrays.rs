//! Copies of Java arrays and strings into Rust values, each with one region copy (no pinning
//! of Java memory while Rust code runs).

use crate::error::BridgeError;
use jni::objects::{JByteArray, JIntArray, JObjectArray, JString};
use jni::refs::Reference;
use jni::Env;

/// A zeroed buffer; an allocation failure is an exception, not an abort of the JVM.
fn zeroed<T: Clone + Default>(length: usize, name: &str) -> Result<Vec<T>, BridgeError> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(length)
        .map_err(|_| BridgeError::Failed(format!("cannot allocate a copy of {name} ({length} elements)")))?;
    buffer.resize(length, T::default());
    Ok(buffer)
}

fn required<T: Reference>(array: &T, name: &str) -> Result<(), BridgeError> {
    if array.is_null() {
        Err(BridgeError::InvalidArgument(format!("{name} must not be null")))
    } else {
        Ok(())
    }
}

/// The whole of an `int[]`, which must not be null.
pub fn ints(env: &Env<'_>, array: &JIntArray<'_>, name: &str) -> Result<Vec<i32>, BridgeError> {
    required(array, name)?;
    let mut values = zeroed(array.len(env)?, name)?;
    array.get_region(env, 0, &mut values)?;
    Ok(values)
}

/// The whole of an `int[]`, or `None` for null.
pub fn optional_ints(env: &Env<'_>, array: &JIntArray<'_>, name: &str) -> Result<Option<Vec<i32>>, BridgeError> {
    if array.is_null() {
        Ok(None)
    } else {
        ints(env, array, name).map(Some)
    }
}

/// Length of a `byte[]`, which must not be null.
pub fn byte_length(env: &Env<'_>, array: &JByteArray<'_>, name: &str) -> Result<usize, BridgeError> {
    required(array, name)?;
    Ok(array.len(env)?)
}

/// The first `length` bytes of a `byte[]` (checked against its length by the caller).
pub fn byte_prefix(env: &Env<'_>, array: &JByteArray<'_>, name: &str, length: usize) -> Result<Vec<u8>, BridgeError> {
    let mut bytes: Vec<u8> = zeroed(length, name)?;
    // SAFETY: i8 and u8 have the same size and alignment; the view covers exactly `bytes`.
    let view = unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<i8>(), length) };
    array.get_region(env, 0, view)?;
    Ok(bytes)
}

/// A Java string as Rust text, or `None` for null. Unpaired surrogates become U+FFFD.
pub fn optional_string(env: &Env<'_>, string: &JString<'_>) -> Result<Option<String>, BridgeError> {
    if string.is_null() {
        Ok(None)
    } else {
        Ok(Some(string.try_to_string(env)?))
    }
}

/// Every element of a `String[]`, which must not be null and may hold nulls.
fn elements(env: &mut Env<'_>, array: &JObjectArray<'_, JString<'_>>) -> Result<Vec<Option<String>>, BridgeError> {
    let length = array.len(env)?;
    let mut values = Vec::with_capacity(length);
    for index in 0..length {
        let element = array.get_element(env, index)?;
        let value = optional_string(env, &element)?;
        // One local reference per element would pile up over a large batch.
        env.delete_local_ref(element);
        values.push(value);
    }
    Ok(values)
}

/// Every element of a `String[]`; neither the array nor its elements may be null.
pub fn strings(
    env: &mut Env<'_>,
    array: &JObjectArray<'_, JString<'_>>,
    name: &str,
) -> Result<Vec<String>, BridgeError> {
    required(array, name)?;
    elements(env, array)?
        .into_iter()
        .enumerate()
        .map(|(index, value)| value.ok_or_else(|| BridgeError::InvalidArgument(format!("{name}[{index}] is null"))))
        .collect()
}

/// Every element of a `String[]` that may itself be null and may hold nulls.
pub fn optional_strings(
    env: &mut Env<'_>,
    array: &JObjectArray<'_, JString<'_>>,
) -> Result<Option<Vec<Option<String>>>, BridgeError> {
    if array.is_null() {
        Ok(None)
    } else {
        elements(env, array).map(Some)
    }
}
