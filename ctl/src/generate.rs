//! What kubectl's generators (`create deployment|service|…`, `run`, `expose`) share: the
//! `--dry-run` and `-o` flags, and sending the built object (or, with `--dry-run=client`, only
//! printing it) as kubectl does. Objects are built as kubectl's Go structs marshal, with their
//! `creationTimestamp: null` and empty `resources: {}`, so that `-o yaml` prints kubectl's bytes.

use serde_json::{Value, json};

use crate::apply::{ValidateArgs, query};
use crate::discovery::send;
use crate::{Config, CtlError};
pub use crate::printer::{Output, go_yaml, print};

#[derive(Clone, Debug, clap::Args)]
pub struct EmitArgs {
    /// none, client (print the object only) or server (the server checks it and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print the object instead of a message.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[command(flatten)]
    pub validate: ValidateArgs,
}

/// A built object and where it is POSTed.
pub struct Generated {
    pub object: Value,
    pub path: String,
    /// kubectl's words before the server's message when it refuses the object, if it has any.
    pub failure: Option<String>,
}

/// Metadata as kubectl's generators write it; the namespace only when `-n` was given, as
/// kubectl's `EnforceNamespace`.
pub fn metadata(config: &Config, name: &str) -> Value {
    let mut metadata = json!({"name": name, "creationTimestamp": null});
    if let Some(namespace) = &config.namespace {
        metadata["namespace"] = json!(namespace);
    }
    metadata
}

/// Sends the object (unless `--dry-run=client`) and prints it, or `kind/name <verb>`.
pub async fn emit(client: &kube::Client, generated: Generated, args: &EmitArgs, field_manager: &str, verb: &str) -> Result<(), CtlError> {
    // As kubectl, a printer it has not is refused before anything is sent.
    let output = Output::parse(args.output.as_deref())?;
    let (object, suffix) = match args.dry_run.as_str() {
        "client" => (generated.object, " (dry run)"),
        "none" | "server" => {
            let server = args.dry_run == "server";
            let query = query(&[
                ("dryRun", if server { "All" } else { "" }),
                ("fieldManager", field_manager),
                ("fieldValidation", args.validate.field_validation()?),
            ]);
            let sent = send(client, "POST", &format!("{}{query}", generated.path), "application/json", &generated.object).await;
            let created = match (sent, generated.failure) {
                (Err(CtlError::Server { message, .. }), Some(failure)) => {
                    // kubectl's words for a Secret end in a space, not a colon.
                    let separator = if failure.ends_with(' ') { "" } else { ": " };
                    return Err(CtlError::Usage(format!("{failure}{separator}{message}")));
                }
                (sent, _) => sent?,
            };
            (created, if server { " (server dry run)" } else { "" })
        }
        other => return Err(dry_run_error(other)),
    };
    print(object, &output, &format!("{verb}{suffix}"))
}

pub fn dry_run_error(value: &str) -> CtlError {
    CtlError::Usage(format!("Invalid dry-run value ({value}). Must be \"none\", \"server\", or \"client\"."))
}

/// A container name from an image, as kubectl's `create deployment` makes it: the last path
/// segment without tag or digest.
pub fn container_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let name = last.split(':').next().unwrap_or(last);
    let name = name.split('@').next().unwrap_or(name);
    name.replace('_', "-")
}

/// `a=b,c=d` as a JSON map, in kubectl's words when a pair is malformed.
pub fn labels(text: &str) -> Result<Value, CtlError> {
    let mut labels = serde_json::Map::new();
    for pair in text.split(',') {
        let (key, value) = pair.split_once('=').ok_or_else(|| CtlError::Usage(format!("invalid label spec: {pair}")))?;
        labels.insert(key.to_string(), json!(value));
    }
    Ok(Value::Object(labels))
}

/// Go's `intstr.Parse`: a number when the text is one, else the text (a named port).
pub fn int_or_string(text: &str) -> Value {
    text.parse::<i64>().map(|number| json!(number)).unwrap_or_else(|_| json!(text))
}

/// SHA-256 in hex (FIPS 180-4), for the name suffixes of `--append-hash`; small enough to keep
/// here rather than take a crate for it.
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut state: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut words = [0u32; 64];
        for (index, word) in block.chunks_exact(4).enumerate() {
            words[index] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for index in 16..64 {
            let s0 = words[index - 15].rotate_right(7) ^ words[index - 15].rotate_right(18) ^ (words[index - 15] >> 3);
            let s1 = words[index - 2].rotate_right(17) ^ words[index - 2].rotate_right(19) ^ (words[index - 2] >> 10);
            words[index] = words[index - 16].wrapping_add(s0).wrapping_add(words[index - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for index in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let temp1 = h.wrapping_add(s1).wrapping_add(choice).wrapping_add(K[index]).wrapping_add(words[index]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let temp2 = s0.wrapping_add(majority);
            (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(temp1), c, b, a, temp1.wrapping_add(temp2));
        }
        for (slot, value) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *slot = slot.wrapping_add(value);
        }
    }
    state.iter().map(|word| format!("{word:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_from_images() {
        assert_eq!(container_name("nginx"), "nginx");
        assert_eq!(container_name("busybox:1.36"), "busybox");
        assert_eq!(container_name("registry.k8s.io/pause@sha256:abc"), "pause");
        assert_eq!(container_name("localhost:5000/my_app:v1"), "my-app");
    }

    #[test]
    fn sha256_of_known_texts() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(&[b'a'; 1000]), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    }
}
