import { BlockList, isIP } from 'node:net'

/** An address family as `net.BlockList` names it. */
export type AddressFamily = 'ipv4' | 'ipv6'

/**
 * The IANA special-purpose address registries (IPv4 and IPv6), as of 2025, and the other blocks that are
 * not global unicast. A delivery may not connect to any of them unless `delivery.allowedNetworks` says so.
 * Where one block lies inside another, the smaller comes first, so that its name is the one reported.
 */
const SPECIAL_PURPOSE_BLOCKS: ReadonlyArray<readonly [cidr: string, name: string]> = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private-use'],
  ['100.64.0.0/10', 'shared address space, carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local, cloud metadata services'],
  ['172.16.0.0/12', 'private-use'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation, TEST-NET-1'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private-use'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation, TEST-NET-2'],
  ['203.0.113.0/24', 'documentation, TEST-NET-3'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'limited broadcast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo'],
  ['2001::/23', 'IETF protocol assignments'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['3fff::/20', 'documentation'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast']
]

interface Block {
  family: AddressFamily
  list: BlockList
  label: string
}

/** Parses `'10.0.0.0/8'`; `null` unless it is an IPv4 or IPv6 address, `/`, and a prefix length within the family's. */
export function parseCidr (cidr: string): { network: string, prefix: number, family: AddressFamily } | null {
  const match = /^([0-9a-f:.]+)\/(\d{1,3})$/i.exec(cidr)
  if (match === null) return null
  const [, network = '', digits = ''] = match
  const family = familyOf(network)
  const prefix = Number(digits)
  if (family === null || prefix > (family === 'ipv4' ? 32 : 128)) return null
  return { network, prefix, family }
}

function familyOf (address: string): AddressFamily | null {
  const version = isIP(address)
  return version === 0 ? null : version === 4 ? 'ipv4' : 'ipv6'
}

/** One BlockList per block: a BlockList matches IPv4 addresses against IPv6 rules too, so families are kept apart here. */
function blockOf (cidr: string, label: string): Block {
  const { network, prefix, family } = parseCidr(cidr) as NonNullable<ReturnType<typeof parseCidr>>
  const list = new BlockList()
  list.addSubnet(network, prefix, family)
  return { family, list, label }
}

const BLOCKS = SPECIAL_PURPOSE_BLOCKS.map(([cidr, name]) => blockOf(cidr, `${cidr} (${name})`))
const IPV4_MAPPED = blockOf('::ffff:0:0/96', '::ffff:0:0/96 (IPv4-mapped)')
const NAT64 = blockOf('64:ff9b::/96', '64:ff9b::/96 (NAT64)')
const GLOBAL_UNICAST = blockOf('2000::/3', '2000::/3 (global unicast)')

/** Whether `address` is in `block`, the families kept apart. */
export function inBlock (block: { family: AddressFamily, list: BlockList }, address: string): boolean {
  return familyOf(address) === block.family && block.list.check(address, block.family)
}

/** The IPv4 address in the last 32 bits of an IPv6 one. */
function lastIPv4 (address: string): string {
  // The WHATWG serialisation is hexadecimal and compressed: expand it to eight 16-bit words. A zone
  // (fe80::1%eth0) is not part of the address, and the URL parser refuses it.
  const [head = '', tail] = new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1).split('::')
  const words = (text: string | undefined): string[] => text === undefined || text === '' ? [] : text.split(':')
  const expanded = [...words(head), ...Array<string>(8 - words(head).length - words(tail).length).fill('0'), ...words(tail)]
  const [high = 0, low = 0] = expanded.slice(6).map((word) => parseInt(word, 16))
  return [high >> 8, high & 255, low >> 8, low & 255].join('.')
}

/**
 * What an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) really reaches: a socket given one connects to the
 * IPv4 address in it. Any other address is returned as it is.
 */
export function dialledAddress (address: string): string {
  return inBlock(IPV4_MAPPED, address) ? lastIPv4(address) : address
}

/**
 * Why `address` (an IP address) is not a public unicast address: the special-purpose block it is in, such
 * as `'127.0.0.0/8, loopback'`; `null` for a public one. IPv4-mapped and NAT64 (`64:ff9b::/96`) addresses
 * are judged by the IPv4 address they carry. Anything unreadable is refused.
 *
 * @example
 * specialPurposeBlock('169.254.169.254') // '169.254.0.0/16 (link-local, cloud metadata services)'
 * specialPurposeBlock('2606:4700::1111') // null
 */
export function specialPurposeBlock (address: string): string | null {
  const family = familyOf(address)
  if (family === null) return 'not an IP address'
  if (inBlock(IPV4_MAPPED, address)) return embedded(IPV4_MAPPED, lastIPv4(address))
  if (inBlock(NAT64, address)) return embedded(NAT64, lastIPv4(address))
  const block = BLOCKS.find((candidate) => inBlock(candidate, address))
  if (block !== undefined) return block.label
  return family === 'ipv6' && !inBlock(GLOBAL_UNICAST, address) ? 'outside 2000::/3 (not global unicast)' : null
}

function embedded (carrier: Block, ipv4: string): string | null {
  const block = specialPurposeBlock(ipv4)
  return block === null ? null : `${carrier.label}, carrying ${ipv4} in ${block}`
}
