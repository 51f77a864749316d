//! Kubernetes' IP and CIDR libraries (`ip()`, `isIP()`, `cidr()`, `containsIP()`...), which
//! parse as Go's `netip.ParseAddr` and `netip.ParsePrefix`: no zones, no IPv4-mapped IPv6.

use std::net::IpAddr;

use crate::cel::value::{Cidr, Value};

pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let address: IpAddr = text.parse().map_err(|_| format!("IP Address {text:?} parse error during conversion from string: ParseAddr({text:?}): unable to parse IP"))?;
    if let IpAddr::V6(v6) = address
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(format!("IPv4-mapped IPv6 address {text:?} is not allowed"));
    }
    Ok(address)
}

pub fn parse_cidr(text: &str) -> Result<Cidr, String> {
    let invalid = || format!("network address {text:?} parse error during conversion from string: netip.ParsePrefix({text:?}): bad bits after slash");
    let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
    let address = parse_ip(address).map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    if prefix > max_prefix(address) || (prefix > 0 && text.split_once('/').is_some_and(|(_, bits)| bits.starts_with('0'))) {
        return Err(invalid());
    }
    Ok(Cidr { address, prefix })
}

fn max_prefix(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    let width = u32::from(max_prefix(address));
    let keep = u32::from(prefix);
    let value = bits(address);
    let masked = if keep == 0 { 0 } else { value & (u128::MAX << (width - keep)) & (u128::MAX >> (128 - width)) };
    match address {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(masked).unwrap_or_default())),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(masked)),
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        address.is_ipv4() == self.address.is_ipv4() && mask(address, self.prefix) == mask(self.address, self.prefix)
    }
}

/// The methods of IPs: `Some` when `name` is one.
pub fn ip_method(name: &str, address: IpAddr) -> Option<Value> {
    Some(match name {
        "family" => Value::Int(if address.is_ipv4() { 4 } else { 6 }),
        "isUnspecified" => Value::Bool(address.is_unspecified()),
        "isLoopback" => Value::Bool(address.is_loopback()),
        "isLinkLocalMulticast" => Value::Bool(match address {
            IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
            IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
        }),
        "isLinkLocalUnicast" => Value::Bool(match address {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        }),
        "isGlobalUnicast" => Value::Bool(match address {
            IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_loopback() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast()),
            IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.segments()[0] & 0xffc0 == 0xfe80),
        }),
        _ => return None,
    })
}

/// The methods of CIDRs that take no argument.
pub fn cidr_method(name: &str, cidr: Cidr) -> Option<Value> {
    Some(match name {
        "ip" => Value::Ip(cidr.address),
        "masked" => Value::Cidr(Cidr { address: mask(cidr.address, cidr.prefix), prefix: cidr.prefix }),
        "prefixLength" => Value::Int(i64::from(cidr.prefix)),
        _ => return None,
    })
}

/// `ip.isCanonical(text)`: whether the text is the address as Go prints it.
pub fn is_canonical(text: &str) -> Result<bool, String> {
    let address = parse_ip(text)?;
    Ok(address.to_string() == text)
}

pub fn cidr_string(cidr: Cidr) -> String {
    format!("{}/{}", cidr.address, cidr.prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes_parse_as_netip_parses_them() {
        assert!(parse_ip("10.0.0.1").is_ok());
        assert!(parse_ip("::ffff:10.0.0.1").is_err());
        assert!(parse_ip("10.0.0.256").is_err());
        let cidr = parse_cidr("10.0.0.0/8").unwrap_or_else(|error| panic!("{error}"));
        assert!(cidr.contains("10.1.2.3".parse().unwrap_or_else(|error| panic!("{error}"))));
        assert!(!cidr.contains("11.1.2.3".parse().unwrap_or_else(|error| panic!("{error}"))));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert_eq!(cidr_method("masked", parse_cidr("10.1.2.3/16").unwrap_or_else(|error| panic!("{error}"))).map(|value| match value {
            Value::Cidr(masked) => cidr_string(masked),
            _ => String::new(),
        }), Some("10.1.0.0/16".to_string()));
    }
}
