//! `snapshot --redact`: account ids, the cluster name, the OIDC issuer id, role, repository and
//! user names replaced consistently, so the snapshot still diagnoses the same and can go into a
//! ticket.
//!
//! Names are replaced word by word (`eks-node-general` → `zz1-zz2-zz3`, `shop/web` → `zz4/zz5`),
//! so a wildcard in a policy (`role/eks-node-*`, `repository/shop/*`) is rewritten with the same
//! words and still matches what it matched before. Names are learned wherever they appear — IAM
//! and ECR listings, ARNs in annotations, events and policies, image references — not only in
//! the documents that list them.

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// Where sensitive names stand in any string.
#[expect(
    clippy::expect_used,
    reason = "literal patterns, compiled by every test run"
)]
static NAMES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Role and user names in ARNs (the last path segment), assumed-role sessions.
        r":role/(?:[A-Za-z0-9+=,.@_-]+/)*([A-Za-z0-9+=,.@_-]+)",
        r":assumed-role/([A-Za-z0-9+=,.@_-]+)/([A-Za-z0-9+=,.@_-]+)",
        r":user/(?:[A-Za-z0-9+=,.@_-]+/)*([A-Za-z0-9+=,.@_-]+)",
        // Repositories in ARNs and in private ECR image references.
        r":repository/([a-z0-9][a-z0-9._/-]*[a-z0-9])",
        // In a registry URL the repository ends where the API path goes on (`/v2/REPO/blobs/…`).
        r"\d{12}\.dkr[.-]ecr[.-][A-Za-z0-9.-]+?\.(?:amazonaws\.com(?:\.cn)?|on\.aws|amazonwebservices\.com\.cn)/(?:v2/)?([a-z0-9][a-z0-9._/-]*?[a-z0-9])(?:/(?:blobs|manifests|tags)/|[^a-z0-9._/-]|$)",
        // EKS cluster names in ARNs.
        r":cluster/([A-Za-z0-9][A-Za-z0-9_-]*)",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

/// Secrets that must never reach a shared snapshot, whatever else is kept: a URL's query (a
/// presigned S3 layer URL carries `X-Amz-Credential`, `X-Amz-Security-Token`, `X-Amz-Signature`),
/// access key ids, and signed values standing alone.
#[expect(
    clippy::expect_used,
    reason = "literal patterns, compiled by every test run"
)]
static SECRETS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)(https?://[^\s?\x22'<>]*)\?[^\s\x22'<>]*", "$1?(query removed)"),
        (
            r"(?i)\b(X-Amz-[A-Za-z-]+|Signature|Credential|SessionToken|Security-Token|aws_session_token|aws_secret_access_key)([=:]\s*)[^\s&,;\x22']+",
            "$1$2(removed)",
        ),
        (r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", "(access key id removed)"),
    ]
    .iter()
    .map(|(p, r)| (Regex::new(p).expect("valid regex"), *r))
    .collect()
});

/// IPv4 addresses, dotted or as EC2 writes them in host names (`ip-10-0-1-23`).
#[expect(
    clippy::expect_used,
    reason = "literal patterns, compiled by every test run"
)]
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(ip-)?(\d{1,3})([.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})\b")
        .expect("valid regex")
});

/// OIDC issuer ids wherever they stand (trust policy keys, provider ARNs), with or without the
/// cluster document.
#[expect(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
static ISSUER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/id/([A-Za-z0-9]+)")
        .expect("valid regex")
});

/// A private address with its host part changed by a fixed XOR: the same address always maps to
/// the same stand-in, and a CIDR block keeps covering exactly the addresses it covered (XOR keeps
/// every prefix relation), so the network lane diagnoses the same. The first octet (and the
/// second of 172.16/12 and 192.168/16) is kept: private stays private.
fn private_ip(octets: [u8; 4]) -> Option<[u8; 4]> {
    let [a, b, c, d] = octets;
    match (a, b) {
        (10, _) => Some([a, b ^ 0x5a, c ^ 0xa5, d ^ 0x3c]),
        (172, 16..=31) | (192, 168) => Some([a, b, c ^ 0xa5, d ^ 0x3c]),
        _ => None,
    }
}

/// Every secret of [`SECRETS`] removed, and private addresses (dotted, or in EC2 host names)
/// replaced.
fn without_secrets(s: &str) -> String {
    let mut out = s.to_string();
    for (pattern, replacement) in SECRETS.iter() {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, *replacement).into_owned();
        }
    }
    IPV4.replace_all(&out, |caps: &regex::Captures<'_>| {
        let dashed = &caps[3] == "-";
        // Dashes make an address only in an EC2 host name; a date is not one.
        if dashed && caps.get(1).is_none() {
            return caps[0].to_string();
        }
        let octet = |i: usize| caps[i].parse::<u8>().ok();
        let parsed = [octet(2), octet(4), octet(5), octet(6)];
        let Some(mapped) = (match parsed {
            [Some(a), Some(b), Some(c), Some(d)] => private_ip([a, b, c, d]),
            _ => None,
        }) else {
            return caps[0].to_string();
        };
        let sep = if dashed { "-" } else { "." };
        format!(
            "{}{}",
            caps.get(1).map_or("", |m| m.as_str()),
            mapped.map(|o| o.to_string()).join(sep)
        )
    })
    .into_owned()
}

/// Words of AWS's own structure (ARN parts, hosts, regions): kept in names, so a pattern such as
/// `cluster/*` or `*.amazonaws.com` keeps its meaning.
const STRUCTURAL: &[&str] = &[
    "arn",
    "aws",
    "iam",
    "ecr",
    "eks",
    "sts",
    "dkr",
    "role",
    "user",
    "repository",
    "cluster",
    "policy",
    "oidc",
    "provider",
    "amazonaws",
    "com",
    "cn",
    "id",
    "system",
    "serviceaccount",
    "root",
    "assumed",
    "node",
    "nodes",
    "pods",
    "api",
    "us",
    "eu",
    "ap",
    "sa",
    "ca",
    "me",
    "af",
    "il",
    "mx",
    "gov",
    "east",
    "west",
    "north",
    "south",
    "central",
    "northeast",
    "southeast",
    "northwest",
    "southwest",
    "fargate",
    "ip",
    "ec2",
    "internal",
    "compute",
    "default",
    // The words CloudTrail names the refusing policy with ("…in a permissions boundary"): a
    // redacted refusal must still say which kind of policy refused.
    "permissions",
    "boundary",
    "identity",
    "based",
    "session",
    "service",
    "control",
    "resource",
    "vpc",
    "endpoint",
    "explicit",
    "deny",
    "policies",
    // And the words STS refuses a token with ("No OpenIDConnect provider found", "Incorrect
    // token audience"): a redacted refusal must still say which link it speaks of.
    "no",
    "openidconnect",
    "found",
    "incorrect",
    "token",
    "audience",
];

/// Session names AWS's own components choose, which the diagnosis reads: kept whole.
const AWS_SESSIONS: &[&str] = &[crate::facts::trail::CREDENTIAL_PROVIDER_SESSION];

/// EC2 resource ids as AWS writes them: a kind, a dash, 8 or 17 hex digits.
#[expect(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
static EC2_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:i|subnet|vpc|rtb|vpce|sg|acl|nat|igw|eni|tgw|pcx|eipalloc)-(?:[0-9a-f]{17}|[0-9a-f]{8})\b")
        .expect("valid regex")
});

/// Characters that separate the words of a name.
fn is_separator(c: char) -> bool {
    matches!(c, '-' | '_' | '.' | '/' | '@' | '+' | '=' | ',')
}

/// The replacements for one snapshot.
pub struct Redactor {
    /// Account id → a stand-in of 12 digits.
    accounts: BTreeMap<String, String>,
    /// The issuer id → its stand-in.
    issuers: BTreeMap<String, String>,
    /// EC2 resource ids (instances, subnets, VPCs, route tables, endpoints, groups, ACLs,
    /// gateways) → a stand-in of the same kind and length.
    ec2_ids: BTreeMap<String, String>,
    /// Whole names (roles, repositories, users, the cluster) learned from the documents.
    names: Vec<String>,
    /// Each word of a name → its stand-in word.
    words: BTreeMap<String, String>,
}

impl Redactor {
    /// Learns the tokens from the documents.
    pub fn new(documents: &[Value]) -> Redactor {
        Redactor::with_names(documents, &[])
    }

    /// Learns the tokens from the documents, and `names` besides (the snapshot's cluster and
    /// context, which hold even when no document names them).
    pub fn with_names(documents: &[Value], extra: &[&str]) -> Redactor {
        let mut strings = Vec::new();
        for d in documents {
            collect_strings(d, &mut strings);
        }
        strings.extend(extra.iter().copied());
        let mut accounts = BTreeMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut learn = |name: &str| {
            if name.len() >= 2
                && !name.contains(['*', '?'])
                && !AWS_SESSIONS.contains(&name)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        };
        for s in &strings {
            // AWS's own registries are public structure, not the user's: kept.
            let aws_owned =
                |a: &String| crate::ecr::reference::AWS_EKS_REGISTRIES.contains(&a.as_str());
            for account in twelve_digit_runs(s).into_iter().filter(|a| !aws_owned(a)) {
                let n = accounts.len() as u64 + 1;
                accounts
                    .entry(account)
                    .or_insert_with(|| format!("{:012}", 900_000_000_000u64 + n));
            }
            for pattern in NAMES.iter() {
                for caps in pattern.captures_iter(s) {
                    // A name cut short by a wildcard is a pattern, not a name.
                    caps.iter()
                        .skip(1)
                        .flatten()
                        .filter(|m| !s[m.end()..].starts_with(['*', '?']))
                        .for_each(|m| learn(m.as_str()));
                }
            }
        }
        extra.iter().copied().for_each(&mut learn);
        let mut issuers = BTreeMap::new();
        let issuer_ids = strings
            .iter()
            .flat_map(|s| ISSUER.captures_iter(s))
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()));
        for id in issuer_ids {
            let n = issuers.len() + 1;
            issuers.entry(id).or_insert_with(|| format!("{:032X}", n));
        }
        for d in documents {
            if let Some(name) = d["cluster"]["name"].as_str() {
                learn(name);
            }
            // Node names (those that are no EC2 host name: those lose their address below), and
            // ServiceAccount names — a trust policy's `sub` pattern (`web-*`) is rewritten word by
            // word, so the names it matches must be too.
            for name in nodes_named(d).into_iter().chain(service_accounts_named(d)) {
                learn(name);
            }
            for role in d["RoleDetailList"].as_array().into_iter().flatten() {
                role["RoleName"].as_str().into_iter().for_each(&mut learn);
            }
            for repo in d["repositories"].as_array().into_iter().flatten() {
                repo["repositoryName"]
                    .as_str()
                    .into_iter()
                    .for_each(&mut learn);
            }
            // A pull-through cache prefix is the first part of the repositories under it.
            for rule in d["pullThroughCacheRules"].as_array().into_iter().flatten() {
                rule["ecrRepositoryPrefix"]
                    .as_str()
                    .into_iter()
                    .for_each(&mut learn);
            }
            d["repositoryName"]
                .as_str()
                .into_iter()
                .for_each(&mut learn);
        }
        // Longest names first, so `shop/web` is replaced before `web`.
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        // A wildcard inside a word (`t-wild*`) matches words that start with its prefix: such
        // words get a stand-in that starts with the prefix's own, so the pattern still matches.
        let structural = |w: &str| {
            STRUCTURAL.contains(&w.to_ascii_lowercase().as_str())
                || w.chars().all(|c| c.is_ascii_digit())
        };
        let prefixes: BTreeSet<String> = strings
            .iter()
            .filter(|s| s.contains(['*', '?']))
            .flat_map(|s| s.split(|c: char| !is_name_char(c) && !matches!(c, '*' | '?')))
            .flat_map(|run| run.split(is_separator))
            .filter_map(|word| {
                word.split(['*', '?'])
                    .next()
                    .filter(|p| p.len() < word.len())
            })
            .filter(|p| !p.is_empty() && !structural(p))
            .map(str::to_string)
            .collect();
        let mut all_words: Vec<&str> = names
            .iter()
            .flat_map(|name| name.split(is_separator))
            .filter(|w| !w.is_empty() && !structural(w))
            .chain(prefixes.iter().map(String::as_str))
            .collect();
        // Shortest first, so a prefix has its stand-in before the words that start with it.
        all_words.sort_by_key(|w| (w.len(), w.to_string()));
        all_words.dedup();
        let mut words: BTreeMap<String, String> = BTreeMap::new();
        for word in all_words {
            let n = words.len() + 1;
            let head = prefixes
                .iter()
                .filter(|p| p.len() < word.len() && word.starts_with(p.as_str()))
                .max_by_key(|p| p.len())
                .and_then(|p| words.get(p))
                .cloned()
                .unwrap_or_default();
            words.insert(word.to_string(), format!("{head}zz{n}q"));
        }
        let mut ec2_ids = BTreeMap::new();
        for id in strings.iter().flat_map(|s| EC2_ID.find_iter(s)) {
            let id = id.as_str();
            let n = ec2_ids.len() as u64 + 1;
            if let Some((kind, hex)) = id.split_once('-') {
                ec2_ids
                    .entry(id.to_string())
                    .or_insert_with(|| format!("{kind}-{n:0width$x}", width = hex.len()));
            }
        }
        Redactor {
            accounts,
            issuers,
            ec2_ids,
            names,
            words,
        }
    }

    /// Replaces every token in every string of the documents.
    pub fn apply(&self, documents: &mut [Value]) {
        for d in documents {
            self.value(d);
        }
    }

    fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            // Keys too: a trust policy's condition keys name the issuer.
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    self.value(&mut item);
                    map.insert(self.text(&key), item);
                }
            }
            _ => {}
        }
    }

    /// A name with each of its words replaced; a wildcard stays where it stood.
    fn pseudonym(&self, name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            let bare = word.trim_end_matches(['*', '?']);
            match self.words.get(bare) {
                Some(stand_in) => {
                    out.push_str(stand_in);
                    out.push_str(&word[bare.len()..]);
                }
                None => out.push_str(word),
            }
            word.clear();
        };
        for c in name.chars() {
            if is_separator(c) {
                flush(&mut word, &mut out);
                out.push(c);
            } else {
                word.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    /// A string with its tokens replaced: account ids wherever they stand between non-digits,
    /// names where they stand alone (not inside a longer name), and the names inside wildcard
    /// patterns word by word. URL-encoded policy documents are decoded first.
    pub fn text(&self, s: &str) -> String {
        let decoded;
        let s = if s.starts_with("%7B") {
            decoded = percent_encoding::percent_decode_str(&s.replace('+', "%20"))
                .decode_utf8_lossy()
                .into_owned();
            decoded.as_str()
        } else {
            s
        };
        let mut out = without_secrets(s);
        for (account, stand_in) in &self.accounts {
            out = replace_where(&out, account, stand_in, |c| c.is_ascii_digit());
        }
        for (issuer, stand_in) in &self.issuers {
            out = replace_where(&out, issuer, stand_in, is_name_char);
        }
        for (id, stand_in) in &self.ec2_ids {
            out = replace_where(&out, id, stand_in, is_name_char);
        }
        for (index, name) in self.names.iter().enumerate() {
            if out.contains(name.as_str()) {
                // A name of structural words only still gets a stand-in of its own.
                let mut stand_in = self.pseudonym(name);
                if stand_in == *name {
                    stand_in = format!("name{index}");
                }
                out = replace_where(&out, name, &stand_in, is_name_char);
            }
        }
        if out.contains(['*', '?']) {
            out = self.wildcards(&out);
        }
        out
    }

    /// Each run of name characters that holds a wildcard, rewritten word by word.
    fn wildcards(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        let pattern_char = |c: char| is_name_char(c) || matches!(c, '*' | '?' | '/' | '.' | '@');
        for c in text.chars() {
            if pattern_char(c) {
                run.push(c);
                continue;
            }
            out.push_str(&self.wildcard_run(&run));
            run.clear();
            out.push(c);
        }
        out.push_str(&self.wildcard_run(&run));
        out
    }

    fn wildcard_run(&self, run: &str) -> String {
        if run.contains(['*', '?']) {
            self.pseudonym(run)
        } else {
            run.to_string()
        }
    }
}

/// A document's Kubernetes objects: a list's items, or the document itself.
fn objects_of(document: &Value) -> Vec<&Value> {
    document["items"]
        .as_array()
        .map(|i| i.iter().collect())
        .unwrap_or_else(|| vec![document])
}

/// The node names a document holds: Nodes' own, and those pods are scheduled to.
fn nodes_named(document: &Value) -> Vec<&str> {
    let mut names = Vec::new();
    for item in objects_of(document) {
        match item["kind"].as_str() {
            Some("Node") => names.extend(item["metadata"]["name"].as_str()),
            Some("Pod") => names.extend(item["spec"]["nodeName"].as_str()),
            _ => {}
        }
    }
    names.retain(|n| !IPV4.is_match(n));
    names
}

/// The ServiceAccount names a document holds (ServiceAccounts' own, pods' and workloads'),
/// except those made of structural words only (`default`).
fn service_accounts_named(document: &Value) -> Vec<&str> {
    let mut names = Vec::new();
    for item in objects_of(document) {
        match item["kind"].as_str() {
            Some("ServiceAccount") => names.extend(item["metadata"]["name"].as_str()),
            Some(_) => {
                names.extend(item["spec"]["serviceAccountName"].as_str());
                names.extend(item["spec"]["template"]["spec"]["serviceAccountName"].as_str());
            }
            None => {}
        }
    }
    names.retain(|n| {
        n.split(is_separator)
            .any(|w| !STRUCTURAL.contains(&w) && !w.chars().all(|c| c.is_ascii_digit()))
    });
    names
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        // Keys too: a trust policy's condition keys name the issuer.
        Value::Object(map) => map.iter().for_each(|(k, i)| {
            out.push(k);
            collect_strings(i, out)
        }),
        _ => {}
    }
}

fn twelve_digit_runs(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                if i - st == 12 {
                    out.push(s[st..i].to_string());
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Replaces `token` where the characters on either side are not `inside` ones.
fn replace_where(text: &str, token: &str, replacement: &str, inside: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(token) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + token.len()..].chars().next();
        out.push_str(&rest[..pos]);
        if before.is_some_and(inside) || after.is_some_and(inside) {
            out.push_str(token);
        } else {
            out.push_str(replacement);
        }
        rest = &rest[pos + token.len()..];
    }
    out.push_str(rest);
    out
}

/// Redacts a snapshot object (its documents and its source block) in place.
pub fn redact_snapshot(snapshot: &mut Value) {
    let documents = snapshot["documents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let source = snapshot["source"].clone();
    // An ARN context is learned from its parts like any other string.
    let extra: Vec<&str> = ["cluster", "context"]
        .iter()
        .filter_map(|k| source[k].as_str())
        .filter(|name| !name.contains(':'))
        .collect();
    let redactor = Redactor::with_names(&documents, &extra);
    if let Some(list) = snapshot["documents"].as_array_mut() {
        redactor.apply(list);
    }
    redactor.value(&mut snapshot["source"]);
}

#[cfg(test)]
mod tests {
    /// Secrets go first, whatever else is kept: a presigned layer URL's query, access key ids and
    /// signatures; node names and private addresses too; the cluster and issuer without the
    /// cluster document.
    #[test]
    fn secrets_node_names_and_private_addresses_never_survive() {
        let message = "Failed to pull image \"111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1\": failed to copy: httpReadSeeker: failed open: failed to do request: Get \"https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/a1b2-111122223333-web/sha256:abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAQWERTYUIOPASDFGH%2F20261204%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261204T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEHgaCXVzLWVhc3QtMSJH&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\": dial tcp 10.0.12.34:443: i/o timeout (node ip-10-0-1-23.ec2.internal, worker-blue-7; key AKIAQWERTYUIOPASDFGH)";
        let mut snapshot = json!({
            "source": {"kind": "live", "cluster": "payments-prod", "context": "payments-admin"},
            "documents": [
                {"apiVersion": "v1", "kind": "List", "items": [
                    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-blue-7"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.1.23"}]}},
                    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}, "spec": {"nodeName": "ip-10-0-1-23.ec2.internal"}, "status": {"podIP": "172.20.3.4", "hostIP": "192.168.7.8"}},
                    {"apiVersion": "v1", "kind": "Event", "message": message}
                ]},
                {"Subnets": [{"CidrBlock": "10.0.0.0/16"}]},
                {"RoleDetailList": [{"RoleName": "web", "AssumeRolePolicyDocument": {"Statement": [{"Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90:sub": "system:serviceaccount:shop:web"}}}]}}]}
            ]
        });
        redact_snapshot(&mut snapshot);
        let text = serde_json::to_string(&snapshot).unwrap();
        for secret in [
            "X-Amz-Credential=",
            "X-Amz-Security-Token=",
            "X-Amz-Signature=",
            "ASIAQWERTYUIOPASDFGH",
            "AKIAQWERTYUIOPASDFGH",
            "IQoJb3JpZ2luX2VjEHgaCXVzLWVhc3QtMSJH",
            "0123456789abcdef0123456789abcdef",
            "worker-blue-7",
            "ip-10-0-1-23",
            "10.0.1.23",
            "10.0.12.34",
            "172.20.3.4",
            "192.168.7.8",
            "payments",
            "A1B2C3D4E5F60718293A4B5C6D7E8F90",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What diagnoses a network failure stays: the layer bucket's host, the port, a CIDR that
        // still covers the node's address.
        assert!(
            text.contains("prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com"),
            "{text}"
        );
        let node_ip = snapshot["documents"][0]["items"][0]["status"]["addresses"][0]["address"]
            .as_str()
            .unwrap();
        let cidr = snapshot["documents"][1]["Subnets"][0]["CidrBlock"]
            .as_str()
            .unwrap();
        let (base, _) = cidr.split_once('/').unwrap();
        let octets = |ip: &str| ip.split('.').take(2).collect::<Vec<_>>().join(".");
        assert_eq!(octets(node_ip), octets(base), "{node_ip} in {cidr}");
        let node = snapshot["documents"][0]["items"][1]["spec"]["nodeName"]
            .as_str()
            .unwrap();
        assert_eq!(
            node,
            format!("ip-{}.ec2.internal", node_ip.replace('.', "-"))
        );
    }

    #[test]
    fn ec2_ids_are_replaced_consistently_keeping_their_kind() {
        let documents = vec![
            serde_json::json!({"Reservations": [{"Instances": [{"InstanceId": "i-0123456789abcdef0", "SubnetId": "subnet-0aa11bb22cc33dd44", "VpcId": "vpc-1a2b3c4d"}]}]}),
            serde_json::json!({"RouteTables": [{"RouteTableId": "rtb-0fedcba9876543210", "VpcId": "vpc-1a2b3c4d", "Associations": [{"SubnetId": "subnet-0aa11bb22cc33dd44"}]}]}),
            serde_json::json!({"note": "aws:///us-east-1a/i-0123456789abcdef0"}),
        ];
        let redactor = Redactor::new(&documents);
        let mut redacted = documents.clone();
        redactor.apply(&mut redacted);
        let text = serde_json::to_string(&redacted).unwrap_or_default();
        for id in [
            "i-0123456789abcdef0",
            "subnet-0aa11bb22cc33dd44",
            "vpc-1a2b3c4d",
            "rtb-0fedcba9876543210",
        ] {
            assert!(!text.contains(id), "{id} in {text}");
        }
        let vpc = |d: &Value| d["Reservations"][0]["Instances"][0]["VpcId"].clone();
        assert_eq!(vpc(&redacted[0]), redacted[1]["RouteTables"][0]["VpcId"]);
        let subnet = redacted[0]["Reservations"][0]["Instances"][0]["SubnetId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            subnet.starts_with("subnet-") && subnet.len() == "subnet-0aa11bb22cc33dd44".len(),
            "{subnet}"
        );
        let provider = redacted[2]["note"].as_str().unwrap_or_default();
        let instance = redacted[0]["Reservations"][0]["Instances"][0]["InstanceId"]
            .as_str()
            .unwrap_or_default();
        assert!(provider.ends_with(instance), "{provider} names {instance}");
    }
    use super::*;
    use serde_json::json;

    /// A `sub` pattern keeps matching the ServiceAccount it matched, whatever other names share
    /// its words.
    #[test]
    fn a_subject_pattern_keeps_matching_its_service_account() {
        let docs = vec![
            json!({"RoleDetailList": [{"RoleName": "web", "Arn": "arn:aws:iam::111122223333:role/web"}]}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web-frontend", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "shop"}}),
            json!({"sub": "system:serviceaccount:shop:web-*"}),
        ];
        let r = Redactor::new(&docs);
        let mut out = docs.clone();
        r.apply(&mut out);
        let sa = out[1]["metadata"]["name"].as_str().unwrap();
        let pattern = out[3]["sub"].as_str().unwrap();
        assert!(!sa.contains("web"), "{sa}");
        assert!(
            crate::iam::eval::glob_match(
                pattern,
                &format!("system:serviceaccount:shop:{sa}"),
                false
            ),
            "{pattern} ~ {sa}"
        );
        assert_eq!(out[2]["metadata"]["name"], "default");
    }

    #[test]
    fn replaces_consistently_and_only_whole_names() {
        let docs = vec![
            json!({"cluster": {"name": "prod", "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod"}}),
            json!({"RoleDetailList": [{"RoleName": "web", "Arn": "arn:aws:iam::111122223333:role/web"}]}),
            json!({"image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1", "note": "webhook of production"}),
        ];
        let r = Redactor::new(&docs);
        let mut out = docs.clone();
        r.apply(&mut out);
        let text = serde_json::to_string(&out).unwrap();
        assert!(!text.contains("111122223333"));
        assert!(!text.contains("prod\""), "{text}");
        assert!(
            text.contains("webhook of production"),
            "names inside words stay: {text}"
        );
        let web = r.pseudonym("web");
        assert!(
            text.contains(&format!("arn:aws:iam::900000000001:role/{web}")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "900000000001.dkr.ecr.us-east-1.amazonaws.com/{web}:1"
            )),
            "{text}"
        );
    }

    #[test]
    fn wildcards_keep_matching_and_accounts_next_to_letters_go() {
        let docs = vec![
            json!({"RoleDetailList": [{"RoleName": "eks-node-general", "Arn": "arn:aws:iam::111122223333:role/eks-node-general"}]}),
            json!({"repositories": [{"repositoryName": "shop/web", "repositoryArn": "arn:aws:ecr:us-east-1:111122223333:repository/shop/web"}]}),
            json!({"policy": "arn:aws:ecr:*:111122223333:repository/shop/*", "trust": "arn:aws:iam::111122223333:role/eks-node-*",
                   "bucket": "logs-111122223333-us", "caller": "arn:aws:sts::111122223333:assumed-role/Admin/jane@example.com"}),
        ];
        let r = Redactor::new(&docs);
        let mut out = docs.clone();
        r.apply(&mut out);
        let text = serde_json::to_string(&out).unwrap();
        for secret in [
            "111122223333",
            "eks-node-general",
            "shop",
            "jane",
            "example",
            "Admin",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let role = r.pseudonym("eks-node-general");
        let pattern = r.text("eks-node-*");
        assert!(
            crate::iam::eval::glob_match(&pattern, &role, false),
            "{pattern} ~ {role}"
        );
        let repo = r.pseudonym("shop/web");
        let pattern = r.text("repository/shop/*");
        assert!(
            crate::iam::eval::glob_match(&pattern, &format!("repository/{repo}"), false),
            "{pattern} ~ {repo}"
        );
    }
}
