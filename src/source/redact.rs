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
#[allow(
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
        r"\d{12}\.dkr[.-]ecr[.-][A-Za-z0-9.-]+?\.(?:amazonaws\.com(?:\.cn)?|on\.aws|amazonwebservices\.com\.cn)/([a-z0-9][a-z0-9._/-]*[a-z0-9])",
        // EKS cluster names in ARNs.
        r":cluster/([A-Za-z0-9][A-Za-z0-9_-]*)",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

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
];

/// EC2 resource ids as AWS writes them: a kind, a dash, 8 or 17 hex digits.
#[allow(
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
        let mut strings = Vec::new();
        for d in documents {
            collect_strings(d, &mut strings);
        }
        let mut accounts = BTreeMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut learn = |name: &str| {
            if name.len() >= 2 && !name.contains(['*', '?']) && !names.iter().any(|n| n == name) {
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
        let mut issuers = BTreeMap::new();
        for d in documents {
            if let Some(name) = d["cluster"]["name"].as_str() {
                learn(name);
            }
            if let Some(issuer) = d["cluster"]["identity"]["oidc"]["issuer"].as_str()
                && let Some(id) = issuer.rsplit('/').next()
            {
                let n = issuers.len() + 1;
                issuers
                    .entry(id.to_string())
                    .or_insert_with(|| format!("{:032X}", n));
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
        let mut out = s.to_string();
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

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
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
    let redactor = Redactor::new(&documents);
    if let Some(list) = snapshot["documents"].as_array_mut() {
        redactor.apply(list);
    }
    redactor.value(&mut snapshot["source"]);
}

#[cfg(test)]
mod tests {

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
