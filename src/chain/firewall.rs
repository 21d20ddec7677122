//! Security group and network ACL rules, judged for one TCP port between address blocks: the
//! rules alone, apart from which path they are on.

/// An IPv4 block: network and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block(u32, u32);

impl Block {
    pub(super) fn parse(text: &str) -> Option<Block> {
        let (ip, bits) = text.split_once('/').unwrap_or((text, "32"));
        let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
        let ip: std::net::Ipv4Addr = ip.parse().ok()?;
        Some(Block(u32::from(ip) & Block::mask(bits), bits))
    }

    fn mask(bits: u32) -> u32 {
        match bits {
            0 => 0,
            b => u32::MAX << (32 - b),
        }
    }

    /// Every address of `inner` is in this block.
    pub(super) fn covers(self, inner: Block) -> bool {
        inner.1 >= self.1 && inner.0 & Block::mask(self.1) == self.0
    }
}

/// A rule's protocol and ports cover TCP `port`.
fn tcp_port(protocol: &str, from: Option<i32>, to: Option<i32>, port: i32) -> bool {
    match protocol {
        "-1" | "all" => true,
        "tcp" | "6" => from.is_none_or(|f| f <= port) && to.is_none_or(|t| port <= t),
        _ => false,
    }
}

/// Whether some rule of a set of security groups lets TCP 443 through.
pub(super) enum Reach {
    Yes,
    No,
    /// No rule names the peer, but one on the port names this prefix list, whose addresses
    /// pulldoctor does not expand.
    PrefixList(String),
}

/// Some rule of these groups lets TCP 443 through from (or to) `peer` — an address block or
/// one of `peer_groups`.
pub(super) fn groups_allow(
    groups: &[&crate::facts::aws::SecurityGroup],
    egress: bool,
    peers: &[Block],
    peer_groups: &[String],
) -> Reach {
    let rules = groups
        .iter()
        .flat_map(|g| match egress {
            true => &g.ip_permissions_egress,
            false => &g.ip_permissions,
        })
        .filter(|r| tcp_port(&r.ip_protocol, r.from_port, r.to_port, 443));
    let mut prefix_list = None;
    for r in rules {
        let by_block = r
            .ip_ranges
            .iter()
            .filter_map(|x| Block::parse(&x.cidr_ip))
            .any(|b| peers.iter().any(|p| b.covers(*p)));
        let by_group = r
            .user_id_group_pairs
            .iter()
            .any(|p| peer_groups.contains(&p.group_id));
        if by_block || by_group {
            return Reach::Yes;
        }
        if let Some(list) = r.prefix_list_ids.first() {
            prefix_list = Some(list.prefix_list_id.clone());
        }
    }
    match prefix_list {
        Some(list) => Reach::PrefixList(list),
        None => Reach::No,
    }
}

/// The first rule of the ACL in one direction that matches TCP `port` to or from `peer`:
/// allowed or not (no rule: the final deny).
pub(super) fn acl_allows(
    acl: &crate::facts::aws::NetworkAcl,
    egress: bool,
    port: i32,
    peer: Block,
) -> bool {
    let mut entries: Vec<&crate::facts::aws::NetworkAclEntry> =
        acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);
    entries
        .into_iter()
        .find(|e| {
            let range = e.port_range.as_ref();
            tcp_port(
                &e.protocol,
                range.map(|r| r.from),
                range.map(|r| r.to),
                port,
            ) && e
                .cidr_block
                .as_deref()
                .and_then(Block::parse)
                .is_some_and(|b| b.covers(peer))
        })
        .is_some_and(|e| e.rule_action.eq_ignore_ascii_case("allow"))
}
