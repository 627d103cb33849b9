//! The object's storage as JSON values: read one, write several at once, sweep a prefix.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{js_sys, ListOptions, Result, Storage};

/// Reads a JSON value.
pub(super) async fn get_json<T: for<'de> Deserialize<'de>>(
    storage: &Storage,
    key: &str,
) -> Result<Option<T>> {
    match storage.get::<String>(key).await? {
        Some(text) => Ok(Some(serde_json::from_str(&text)?)),
        None => Ok(None),
    }
}

/// Writes several values (as JSON text) in one storage operation.
pub(super) async fn put_json(storage: &Storage, values: &[(String, String)]) -> Result<()> {
    let object = js_sys::Object::new();
    for (key, value) in values {
        js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from_str(value))?;
    }
    storage.put_multiple_raw(object).await
}

/// The values under `prefix`, ordered by key.
pub(super) async fn list(storage: &Storage, prefix: &str) -> Result<Vec<(String, String)>> {
    let map = storage
        .list_with_options(ListOptions::new().prefix(prefix))
        .await?;
    let mut values = Vec::new();
    map.for_each(&mut |value, key| {
        if let (Some(key), Some(value)) = (key.as_string(), value.as_string()) {
            values.push((key, value));
        }
    });
    values.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(values)
}

/// Deletes keys, in batches the runtime accepts.
pub(super) async fn delete_all(storage: &Storage, keys: Vec<String>) -> Result<()> {
    for chunk in keys.chunks(128) {
        storage.delete_multiple(chunk.to_vec()).await?;
    }
    Ok(())
}

/// Deletes the entries under `prefix` whose value `lapsed` says are done; returns how many
/// were deleted and how many remain.
pub(super) async fn sweep_prefix(
    storage: &Storage,
    prefix: &str,
    lapsed: impl Fn(&str) -> bool,
) -> Result<(usize, usize)> {
    // Page through the keys, so a large shard never loads all of them at once.
    const PAGE: usize = 512;
    let (mut swept, mut kept) = (0_usize, 0_usize);
    let mut start: Option<String> = None;
    loop {
        let mut options = ListOptions::new().prefix(prefix).limit(PAGE);
        if let Some(start) = &start {
            options = options.start(start);
        }
        let map = storage.list_with_options(options).await?;
        let (mut done, mut last, mut listed) = (Vec::new(), None, 0_usize);
        map.for_each(&mut |value, key| {
            listed += 1;
            let Some(key) = key.as_string() else { return };
            // `start` is inclusive: the previous page's last key comes again.
            if start.as_deref() == Some(key.as_str()) {
                return;
            }
            match value.as_string() {
                Some(value) if lapsed(&value) => done.push(key.clone()),
                _ => kept += 1,
            }
            last = Some(key);
        });
        swept += done.len();
        delete_all(storage, done).await?;
        match last {
            Some(last) if listed == PAGE => start = Some(last),
            _ => return Ok((swept, kept)),
        }
    }
}
