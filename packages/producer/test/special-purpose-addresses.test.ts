import t from 'tap'
import { specialPurposeBlock } from '../src/delivery/special-purpose-addresses.ts'

// The address classifier behind the SSRF guard, over every block it refuses: an address inside each block
// (at its edges where they matter) and one just outside. Nothing here touches the network.

const NOT_GLOBAL = 'outside 2000::/3 (not global unicast)'

/** [block label, addresses inside, addresses just outside with what they are instead (null: public)] */
const BLOCKS: Array<[string, string[], Array<[string, string | null]>]> = [
  ['0.0.0.0/8 ("this network")', ['0.0.0.0', '0.255.255.255'], [['1.0.0.0', null]]],
  ['10.0.0.0/8 (private-use)', ['10.0.0.0', '10.255.255.255'], [['9.255.255.255', null], ['11.0.0.0', null]]],
  ['100.64.0.0/10 (shared address space, carrier-grade NAT)', ['100.64.0.0', '100.127.255.255'], [['100.63.255.255', null], ['100.128.0.0', null]]],
  ['127.0.0.0/8 (loopback)', ['127.0.0.1', '127.255.255.255'], [['126.255.255.255', null], ['128.0.0.0', null]]],
  ['169.254.0.0/16 (link-local, cloud metadata services)', ['169.254.169.254', '169.254.0.0', '169.254.255.255'], [['169.253.255.255', null], ['169.255.0.0', null]]],
  ['172.16.0.0/12 (private-use)', ['172.16.0.0', '172.31.255.255'], [['172.15.255.255', null], ['172.32.0.0', null]]],
  ['192.0.0.0/24 (IETF protocol assignments)', ['192.0.0.0', '192.0.0.255'], [['191.255.255.255', null], ['192.0.1.0', null]]],
  ['192.0.2.0/24 (documentation, TEST-NET-1)', ['192.0.2.0', '192.0.2.255'], [['192.0.1.255', null], ['192.0.3.0', null]]],
  ['192.88.99.0/24 (6to4 relay anycast)', ['192.88.99.0', '192.88.99.255'], [['192.88.98.255', null], ['192.88.100.0', null]]],
  ['192.168.0.0/16 (private-use)', ['192.168.0.0', '192.168.255.255'], [['192.167.255.255', null], ['192.169.0.0', null]]],
  ['198.18.0.0/15 (benchmarking)', ['198.18.0.0', '198.19.255.255'], [['198.17.255.255', null], ['198.20.0.0', null]]],
  ['198.51.100.0/24 (documentation, TEST-NET-2)', ['198.51.100.0', '198.51.100.255'], [['198.51.99.255', null], ['198.51.101.0', null]]],
  ['203.0.113.0/24 (documentation, TEST-NET-3)', ['203.0.113.0', '203.0.113.255'], [['203.0.112.255', null], ['203.0.114.0', null]]],
  ['224.0.0.0/4 (multicast)', ['224.0.0.0', '239.255.255.255'], [['223.255.255.255', null]]],
  ['240.0.0.0/4 (reserved)', ['240.0.0.0', '255.255.255.254'], [['239.255.255.255', '224.0.0.0/4 (multicast)']]],
  ['255.255.255.255/32 (limited broadcast)', ['255.255.255.255'], [['255.255.255.254', '240.0.0.0/4 (reserved)']]],
  ['::/128 (unspecified)', ['::'], [['::2', NOT_GLOBAL]]],
  ['::1/128 (loopback)', ['::1', '0:0:0:0:0:0:0:1'], [['::2', NOT_GLOBAL]]],
  ['64:ff9b:1::/48 (local-use IPv4/IPv6 translation)', ['64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff'], [['64:ff9b:2::', NOT_GLOBAL], ['64:ff9b:0:ffff::', NOT_GLOBAL]]],
  ['100::/64 (discard-only)', ['100::', '100::ffff:ffff:ffff:ffff'], [['100:0:0:1::', NOT_GLOBAL]]],
  ['2001::/32 (Teredo)', ['2001::', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:ffff:ffff:ffff:ffff:ffff:ffff'], [['2001:1::1', '2001::/23 (IETF protocol assignments)']]],
  ['2001::/23 (IETF protocol assignments)', ['2001:1::1', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff'], [['2001:200::', null], ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null]]],
  ['2001:db8::/32 (documentation)', ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'], [['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', null], ['2001:db9::', null]]],
  ['2002::/16 (6to4)', ['2002::', '2002:7f00:1::', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], [['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null], ['2003::', null]]],
  ['3fff::/20 (documentation)', ['3fff::', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff'], [['3fff:1000::', null], ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null]]],
  ['fc00::/7 (unique-local)', ['fc00::', 'fd12:3456::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], [['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', NOT_GLOBAL], ['fe00::', NOT_GLOBAL]]],
  ['fe80::/10 (link-local)', ['fe80::', 'fe80::1%eth0', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], [['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', NOT_GLOBAL], ['fec0::', NOT_GLOBAL]]],
  ['ff00::/8 (multicast)', ['ff00::', 'ff02::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], [['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', NOT_GLOBAL]]],
  [NOT_GLOBAL, ['::2', '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '4000::', '::7f00:1'], [['2000::', null], ['3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null]]]
]

t.test('every special-purpose block: inside is refused with its name, just outside is not that block', async (t) => {
  for (const [label, inside, outside] of BLOCKS) {
    for (const address of inside) t.equal(specialPurposeBlock(address), label, `${address} is in ${label}`)
    for (const [address, instead] of outside) t.equal(specialPurposeBlock(address), instead, `${address} is just outside ${label}`)
  }
})

t.test('IPv4-mapped addresses are judged by the IPv4 address they carry, in either notation', async (t) => {
  t.equal(specialPurposeBlock('::ffff:127.0.0.1'), '::ffff:0:0/96 (IPv4-mapped), carrying 127.0.0.1 in 127.0.0.0/8 (loopback)')
  t.equal(specialPurposeBlock('::ffff:a9fe:a9fe'), '::ffff:0:0/96 (IPv4-mapped), carrying 169.254.169.254 in 169.254.0.0/16 (link-local, cloud metadata services)')
  t.equal(specialPurposeBlock('::ffff:0:0'), '::ffff:0:0/96 (IPv4-mapped), carrying 0.0.0.0 in 0.0.0.0/8 ("this network")')
  t.equal(specialPurposeBlock('::ffff:10.1.2.3%eth0'), '::ffff:0:0/96 (IPv4-mapped), carrying 10.1.2.3 in 10.0.0.0/8 (private-use)', 'a zone is not part of the address')
  t.equal(specialPurposeBlock('::FFFF:C633:6407'), '::ffff:0:0/96 (IPv4-mapped), carrying 198.51.100.7 in 198.51.100.0/24 (documentation, TEST-NET-2)')
  t.equal(specialPurposeBlock('::ffff:8.8.8.8'), null, 'a mapped public address reaches a public address')
  t.equal(specialPurposeBlock('::fffe:7f00:1'), NOT_GLOBAL, 'just outside ::ffff:0:0/96')
})

t.test('NAT64 addresses (64:ff9b::/96) are judged by the IPv4 address they translate to', async (t) => {
  t.equal(specialPurposeBlock('64:ff9b::10.0.0.1'), '64:ff9b::/96 (NAT64), carrying 10.0.0.1 in 10.0.0.0/8 (private-use)')
  t.equal(specialPurposeBlock('64:ff9b::a9fe:a9fe'), '64:ff9b::/96 (NAT64), carrying 169.254.169.254 in 169.254.0.0/16 (link-local, cloud metadata services)')
  t.equal(specialPurposeBlock('64:ff9b::'), '64:ff9b::/96 (NAT64), carrying 0.0.0.0 in 0.0.0.0/8 ("this network")')
  t.equal(specialPurposeBlock('64:ff9b::1'), '64:ff9b::/96 (NAT64), carrying 0.0.0.1 in 0.0.0.0/8 ("this network")')
  t.equal(specialPurposeBlock('64:ff9b::8.8.8.8'), null, 'the NAT64 form of a public address, as DNS64 hands out on IPv6-only networks')
  t.equal(specialPurposeBlock('64:ff9b::1:0:0'), NOT_GLOBAL, 'just outside 64:ff9b::/96')
})

t.test('public unicast addresses pass; what is not an IP address does not', async (t) => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '2620:fe::fe']) {
    t.equal(specialPurposeBlock(address), null, address)
  }
  for (const text of ['example.com', '127.1', '2130706433', '']) t.equal(specialPurposeBlock(text), 'not an IP address', JSON.stringify(text))
})
