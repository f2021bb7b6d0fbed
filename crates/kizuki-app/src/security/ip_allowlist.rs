//! IP allowlists (per organisation, and for centre accounts) and finding the client's address
//! behind trusted reverse proxies.
//!
//! An allowlist is the text an administrator types: CIDR blocks or single addresses,
//! separated by newlines, commas or spaces, `#` starting a comment. A mistake is reported with
//! the entry and its line, never silently dropped, since a dropped entry locks people out and
//! a misread one lets others in.
//!
//! `X-Forwarded-For` is ignored unless configured: anyone can send that header, so it is
//! believed only from a listed proxy, and then read from the right, skipping our own proxies,
//! to the first address we did not add ourselves.

use kizuki_domain::FieldError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// More entries than anyone maintains by hand; a bound keeps a pasted dump from slowing
/// every login.
pub const MAX_ENTRIES: usize = 1000;

/// A network: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why one entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrProblem {
    NotAnAddress,
    BadPrefix {
        max: u8,
    },
    /// Bits set after the prefix, which usually means a typo in the prefix or the address.
    HostBitsSet {
        network: String,
    },
    TooMany {
        max: usize,
    },
}

/// IPv4 clients of a dual-stack listener appear as `::ffff:a.b.c.d`; they are IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask_v4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask_v6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address (`/32` or `/128`).
    pub fn parse(s: &str) -> Result<Cidr, CidrProblem> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrProblem::NotAnAddress)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                // Digits only: `+8` and ` 8` parse as u8 but are not what anyone means.
                Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(CidrProblem::BadPrefix { max }),
            },
        };
        let cidr = Cidr::normalised(addr, prefix);
        let network = cidr.network();
        if network != cidr {
            return Err(CidrProblem::HostBitsSet {
                network: network.to_string(),
            });
        }
        Ok(cidr)
    }

    /// Mapped IPv4 networks (`::ffff:10.0.0.0/104`) become plain IPv4 ones, so they match the
    /// canonical addresses they are compared with.
    fn normalised(addr: IpAddr, prefix: u8) -> Cidr {
        match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Cidr {
                    addr: IpAddr::V4(v4),
                    prefix: prefix - 96,
                },
                None => Cidr { addr, prefix },
            },
            _ => Cidr { addr, prefix },
        }
    }

    fn network(self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(self.prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(self.prefix))),
        };
        Cidr { addr, ..self }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                (u32::from(net) ^ u32::from(a)) & mask_v4(self.prefix) == 0
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                (u128::from(net) ^ u128::from(a)) & mask_v6(self.prefix) == 0
            }
            _ => false,
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One bad entry: where it is, what was written and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// 1-based line of the text.
    pub line: usize,
    pub entry: String,
    pub problem: CidrProblem,
}

impl EntryError {
    pub fn message_ja(&self) -> String {
        let (l, e) = (self.line, &self.entry);
        match &self.problem {
            CidrProblem::NotAnAddress => {
                format!("{l}行目「{e}」はIPアドレスまたはCIDR表記として読めません")
            }
            CidrProblem::BadPrefix { max } => {
                format!("{l}行目「{e}」のプレフィックス長は0〜{max}の数字で指定してください")
            }
            CidrProblem::HostBitsSet { network } => format!(
                "{l}行目「{e}」はプレフィックスより後ろのビットが0ではありません（「{network}」のことですか）"
            ),
            CidrProblem::TooMany { max } => {
                format!("{l}行目「{e}」: 登録できるのは{max}件までです")
            }
        }
    }

    pub fn message_en(&self) -> String {
        let (l, e) = (self.line, &self.entry);
        match &self.problem {
            CidrProblem::NotAnAddress => {
                format!("line {l}: '{e}' is not an IP address or CIDR block")
            }
            CidrProblem::BadPrefix { max } => {
                format!("line {l}: '{e}' needs a prefix length from 0 to {max}")
            }
            CidrProblem::HostBitsSet { network } => {
                format!("line {l}: '{e}' has bits set after the prefix (did you mean '{network}'?)")
            }
            CidrProblem::TooMany { max } => {
                format!("line {l}: '{e}': at most {max} entries are allowed")
            }
        }
    }

    /// As a form error on `field` (e.g. `ip_allowlist`), in both languages.
    pub fn to_field_error(&self, field: &str) -> FieldError {
        FieldError::invalid(
            field,
            format!("{} / {}", self.message_ja(), self.message_en()),
        )
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for EntryError {}

/// A list of networks. Empty means "no allowlist configured": [`Allowlist::permits`] lets
/// every address through, while [`Allowlist::contains`] matches none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist(Vec<Cidr>);

impl Allowlist {
    /// Reads the text form; every bad entry is reported, not only the first.
    pub fn parse(text: &str) -> Result<Allowlist, Vec<EntryError>> {
        let mut nets = Vec::new();
        let mut errs = Vec::new();
        'lines: for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let content = line.split('#').next().unwrap_or("");
            for entry in content
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
            {
                let err = |problem| EntryError {
                    line: line_no,
                    entry: entry.to_owned(),
                    problem,
                };
                if nets.len() >= MAX_ENTRIES {
                    errs.push(err(CidrProblem::TooMany { max: MAX_ENTRIES }));
                    break 'lines;
                }
                match Cidr::parse(entry) {
                    Ok(c) if !nets.contains(&c) => nets.push(c),
                    Ok(_) => {}
                    Err(p) => errs.push(err(p)),
                }
            }
        }
        if errs.is_empty() {
            Ok(Allowlist(nets))
        } else {
            Err(errs)
        }
    }

    pub fn from_cidrs(nets: Vec<Cidr>) -> Allowlist {
        Allowlist(nets)
    }

    pub fn entries(&self) -> &[Cidr] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is inside one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// Whether a login or token use from `ip` is allowed: inside a network, or no allowlist.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.is_empty() || self.contains(ip)
    }

    /// One network a line, as stored.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(Cidr::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// How to find the client's address behind proxies. The default believes no header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    pub trust_forwarded: bool,
    /// Our own reverse proxies and load balancers.
    pub trusted: Allowlist,
}

/// An `X-Forwarded-For` hop that is not an address. The request is refused rather than
/// guessed at: a guess is exactly what a forged header hopes for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Forwarded-For has an entry that is not an address: '{entry}'")]
pub struct ForwardedError {
    pub entry: String,
}

/// One `X-Forwarded-For` hop: an address, optionally with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return port_ok
            .then(|| inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    let (a, port) = s.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    a.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The client's address: `peer` (the socket's remote address) unless forwarding is trusted
/// and `peer` is one of our proxies; then the right-most `X-Forwarded-For` hop that is not
/// one of our proxies. `forwarded_for` holds every `X-Forwarded-For` header value in the
/// order received.
pub fn client_addr(
    cfg: &ProxyConfig,
    peer: IpAddr,
    forwarded_for: &[&str],
) -> Result<IpAddr, ForwardedError> {
    let peer = canonical(peer);
    if !cfg.trust_forwarded || !cfg.trusted.contains(peer) {
        return Ok(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect();
    let mut leftmost = peer;
    for hop in hops.iter().rev() {
        let ip = parse_hop(hop)
            .map(canonical)
            .ok_or_else(|| ForwardedError {
                entry: (*hop).to_owned(),
            })?;
        if !cfg.trusted.contains(ip) {
            return Ok(ip);
        }
        leftmost = ip;
    }
    // Every hop is one of ours (an internal health check): the furthest is the client.
    Ok(leftmost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn list(s: &str) -> Allowlist {
        Allowlist::parse(s).unwrap()
    }

    #[test]
    fn ipv4_blocks_and_edges() {
        let l = list("192.0.2.0/24\n198.51.100.7");
        assert!(l.contains(ip("192.0.2.0")));
        assert!(l.contains(ip("192.0.2.255")));
        assert!(!l.contains(ip("192.0.3.0")));
        assert!(!l.contains(ip("192.0.1.255")));
        assert!(l.contains(ip("198.51.100.7")));
        assert!(!l.contains(ip("198.51.100.8")));
        assert!(list("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!list("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(list("10.0.0.0/31").contains(ip("10.0.0.1")));
        assert!(!list("10.0.0.0/31").contains(ip("10.0.0.2")));
        assert!(list("255.255.255.255/32").contains(ip("255.255.255.255")));
    }

    #[test]
    fn ipv6_blocks_and_edges() {
        let l = list("2001:db8::/32, 2001:db8:ffff::1/128");
        assert!(l.contains(ip("2001:db8::")));
        assert!(l.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!l.contains(ip("2001:db9::")));
        assert!(!l.contains(ip("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(list("::/0").contains(ip("2001:db8::1")));
        assert!(!list("::/0").contains(ip("192.0.2.1")));
        let one = list("2001:db8::1");
        assert!(one.contains(ip("2001:db8::1")));
        assert!(!one.contains(ip("2001:db8::2")));
        assert!(list("fe80::/10").contains(ip("febf::1")));
        assert!(!list("fe80::/10").contains(ip("fec0::1")));
    }

    #[test]
    fn mapped_ipv4_is_ipv4_on_both_sides() {
        let l = list("192.0.2.0/24");
        assert!(l.contains(ip("::ffff:192.0.2.9")));
        let mapped = list("::ffff:192.0.2.0/120");
        assert_eq!(mapped.entries()[0].to_string(), "192.0.2.0/24");
        assert!(mapped.contains(ip("192.0.2.9")));
        assert!(!mapped.contains(ip("192.0.3.9")));
        // IPv4-compatible (deprecated) addresses are not mapped ones.
        assert!(!l.contains(ip("::192.0.2.9")));
    }

    #[test]
    fn comments_separators_and_duplicates() {
        let l =
            list("# office\n192.0.2.0/24 # Tokyo\n\n198.51.100.0/24,203.0.113.0/24\n192.0.2.0/24");
        assert_eq!(l.to_text(), "192.0.2.0/24\n198.51.100.0/24\n203.0.113.0/24");
        assert!(list("").is_empty());
        assert!(list("  # nothing here\n").is_empty());
        assert!(list("").permits(ip("203.0.113.1")));
        assert!(!list("").contains(ip("203.0.113.1")));
        assert!(!l.permits(ip("8.8.8.8")));
    }

    #[test]
    fn every_bad_entry_is_named_with_its_line() {
        let errs = Allowlist::parse(
            "192.0.2.0/24\n192.0.2.300\n10.0.0.1/8, 2001:db8::/129\n10.0.0.0/+8 10.0.0.0/ host.example.jp",
        )
        .unwrap_err();
        let got: Vec<(usize, &str, &CidrProblem)> = errs
            .iter()
            .map(|e| (e.line, e.entry.as_str(), &e.problem))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "192.0.2.300", &CidrProblem::NotAnAddress),
                (
                    3,
                    "10.0.0.1/8",
                    &CidrProblem::HostBitsSet {
                        network: "10.0.0.0/8".into()
                    }
                ),
                (3, "2001:db8::/129", &CidrProblem::BadPrefix { max: 128 }),
                (4, "10.0.0.0/+8", &CidrProblem::BadPrefix { max: 32 }),
                (4, "10.0.0.0/", &CidrProblem::BadPrefix { max: 32 }),
                (4, "host.example.jp", &CidrProblem::NotAnAddress),
            ]
        );
        let e = &errs[1];
        assert!(e.message_ja().contains("3行目「10.0.0.1/8」"));
        assert!(e.message_ja().contains("10.0.0.0/8"));
        assert!(e.message_en().contains("line 3: '10.0.0.1/8'"));
        let f = e.to_field_error("ip_allowlist");
        assert_eq!(f.field, "ip_allowlist");
        assert!(f.message_en().contains("did you mean '10.0.0.0/8'"));
        assert!(matches!(
            Cidr::parse("2001:db8::1/64"),
            Err(CidrProblem::HostBitsSet { network }) if network == "2001:db8::/64"
        ));
        assert_eq!(Cidr::parse("fe80::1%eth0"), Err(CidrProblem::NotAnAddress));
    }

    #[test]
    fn the_list_is_bounded() {
        let text: String = (0..MAX_ENTRIES + 50)
            .map(|i| format!("10.{}.{}.0/24\n", i / 256, i % 256))
            .collect();
        let errs = Allowlist::parse(&text).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, MAX_ENTRIES + 1);
        assert_eq!(errs[0].problem, CidrProblem::TooMany { max: MAX_ENTRIES });
    }

    fn proxies() -> ProxyConfig {
        ProxyConfig {
            trust_forwarded: true,
            trusted: list("10.0.0.0/8\n2001:db8:aaaa::/48"),
        }
    }

    #[test]
    fn forwarded_for_is_ignored_by_default() {
        let cfg = ProxyConfig::default();
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["203.0.113.9"]),
            Ok(ip("10.0.0.5"))
        );
        // Trusting the header but listing no proxy believes nobody.
        let cfg = ProxyConfig {
            trust_forwarded: true,
            trusted: Allowlist::default(),
        };
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["203.0.113.9"]),
            Ok(ip("10.0.0.5"))
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let cfg = proxies();
        assert_eq!(
            client_addr(&cfg, ip("198.51.100.1"), &["203.0.113.9"]),
            Ok(ip("198.51.100.1"))
        );
        assert_eq!(
            client_addr(&cfg, ip("::ffff:10.0.0.5"), &["203.0.113.9"]),
            Ok(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let cfg = proxies();
        // The client forged a first hop; our two proxies appended the real one and theirs.
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["192.0.2.66, 203.0.113.9, 10.1.1.1"]),
            Ok(ip("203.0.113.9"))
        );
        // Split over several headers, with ports and IPv6.
        assert_eq!(
            client_addr(
                &cfg,
                ip("2001:db8:aaaa::1"),
                &["192.0.2.66", "[2001:db8:bbbb::7]:5123, [2001:db8:aaaa::2]"]
            ),
            Ok(ip("2001:db8:bbbb::7"))
        );
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["203.0.113.9:44321"]),
            Ok(ip("203.0.113.9"))
        );
        // Only our own hops: the furthest one.
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["10.2.2.2, 10.1.1.1"]),
            Ok(ip("10.2.2.2"))
        );
        // A trusted proxy that sent no header is the client.
        assert_eq!(client_addr(&cfg, ip("10.0.0.5"), &[]), Ok(ip("10.0.0.5")));
    }

    #[test]
    fn a_malformed_hop_before_the_client_is_refused() {
        let cfg = proxies();
        for bad in [
            "unknown",
            "",
            "203.0.113.9:",
            "[2001:db8::1",
            "2001:db8::1]:80",
            "1.2.3.4:x",
        ] {
            let header = format!("192.0.2.1, {bad}, 10.1.1.1");
            assert_eq!(
                client_addr(&cfg, ip("10.0.0.5"), &[header.as_str()]),
                Err(ForwardedError {
                    entry: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
        // Garbage left of the client is never read.
        assert_eq!(
            client_addr(&cfg, ip("10.0.0.5"), &["garbage, 203.0.113.9"]),
            Ok(ip("203.0.113.9"))
        );
    }
}
