//! Builds the Java `BatchOutcomes` of a batch: two primitive arrays and two string arrays in
//! which equal texts share one Java string.

use crate::error::BridgeError;
use crate::outcomes::CompactOutcomes;
use jni::objects::{JObject, JObjectArray, JString};
use jni::{jni_sig, jni_str, Env, JValue};
use std::collections::HashMap;
use std::sync::Arc;

/// A new `kinesis.producer.bridge.BatchOutcomes` holding `outcomes`.
pub fn batch_outcomes<'local>(
    env: &mut Env<'local>,
    outcomes: &CompactOutcomes,
) -> Result<JObject<'local>, BridgeError> {
    let count = outcomes.len();
    let status = env.new_byte_array(count)?;
    status.set_region(env, 0, &outcomes.status)?;
    let attempts = env.new_int_array(count)?;
    attempts.set_region(env, 0, &outcomes.attempts)?;
    let codes = string_array(env, &outcomes.codes)?;
    let messages = string_array(env, &outcomes.messages)?;
    let object = env.new_object(
        jni_str!("kinesis/producer/bridge/BatchOutcomes"),
        jni_sig!("([B[I[Ljava/lang/String;[Ljava/lang/String;)V"),
        &[JValue::Object(&status), JValue::Object(&attempts), JValue::Object(&codes), JValue::Object(&messages)],
    )?;
    Ok(object)
}

/// A `String[]` of `values` (null where `None`); equal texts share one Java string. At most one
/// local reference is held at a time, however many distinct texts there are.
fn string_array<'local>(
    env: &mut Env<'local>,
    values: &[Option<Arc<str>>],
) -> Result<JObjectArray<'local, JString<'local>>, BridgeError> {
    let array = JObjectArray::<JString>::new(env, values.len(), JString::null())?;
    // Where each distinct text was first stored.
    let mut first_index: HashMap<&str, usize> = HashMap::new();
    for (index, value) in values.iter().enumerate() {
        let Some(text) = value else { continue };
        let string = match first_index.get(&**text) {
            Some(&first) => array.get_element(env, first)?,
            None => {
                first_index.insert(text, index);
                JString::from_str(env, text)?
            }
        };
        array.set_element(env, index, &string)?;
        env.delete_local_ref(string);
    }
    Ok(array)
}
