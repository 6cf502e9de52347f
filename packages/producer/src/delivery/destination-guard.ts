import { lookup as systemLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns'
import { BlockList, isIP } from 'node:net'
import { Agent, buildConnector } from 'undici'
import { describeValue, WebhookOptionError } from '@webhook-jwt/protocol'
import { DestinationForbiddenError } from '../errors.ts'
import { dialledAddress, inBlock, parseCidr, specialPurposeBlock, type AddressFamily } from './special-purpose-addresses.ts'

/** `dns.lookup` as `net.connect` calls it: all addresses, or the first one. */
export type LookupFunction = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void
type NetLookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * Which addresses deliveries may connect to: public unicast ones, and those in `delivery.allowedNetworks`.
 * An IPv4-mapped address (`::ffff:10.0.0.1`) is judged as the IPv4 address a socket really dials.
 */
export class DestinationPolicy {
  readonly #allowed: Array<{ family: AddressFamily, list: BlockList }>

  constructor (allowedNetworks: readonly string[]) {
    this.#allowed = allowedNetworks.map((cidr) => {
      const { network, prefix, family } = parseCidr(cidr) as NonNullable<ReturnType<typeof parseCidr>>
      const list = new BlockList()
      list.addSubnet(network, prefix, family)
      return { family, list }
    })
  }

  /** Why a connection to `address` is refused (the special-purpose block it is in); `null` when it is allowed. */
  refusal (address: string): string | null {
    const dialled = dialledAddress(address)
    if (this.#allowed.some((network) => inBlock(network, dialled))) return null
    return specialPurposeBlock(address)
  }
}

/** Validates `delivery.allowedNetworks` at registration: a list of IPv4 and IPv6 networks in CIDR notation. */
export function readAllowedNetworks (value: unknown): DestinationPolicy {
  const option = 'delivery.allowedNetworks'
  if (value === undefined) return new DestinationPolicy([])
  if (!Array.isArray(value)) throw new WebhookOptionError(option, `must be an array of networks in CIDR notation, such as ['10.0.0.0/8', 'fd00::/8'] (got ${describeValue(value)})`)
  value.forEach((cidr: unknown, index) => {
    const network = typeof cidr === 'string' ? parseCidr(cidr) : null
    if (network === null) throw new WebhookOptionError(`${option}[${index}]`, `must be a network in CIDR notation, an address and a prefix length, such as '10.0.0.0/8' or 'fd00::/8' (got ${describeValue(cidr)})`)
    // Such an address is judged as the IPv4 one it carries: a network written this way would never match.
    if (network.family === 'ipv6' && network.prefix >= 96 && dialledAddress(network.network) !== network.network) {
      throw new WebhookOptionError(`${option}[${index}]`, `must give an IPv4-mapped network as IPv4, such as '${dialledAddress(network.network)}/${network.prefix - 96}': IPv4-mapped addresses are checked as the IPv4 address they carry`)
    }
  })
  return new DestinationPolicy(value as string[])
}

/**
 * `dns.lookup` that refuses a name when any address it resolves to is refused: `net.connect` connects only to
 * the addresses this hands it, so the check holds for the address dialled, whatever the name resolves to
 * the next time (DNS rebinding).
 */
export function checkedLookup (policy: DestinationPolicy, resolve: LookupFunction = systemLookup): (hostname: string, options: LookupOptions, callback: NetLookupCallback) => void {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, [])
        return
      }
      for (const { address } of addresses) {
        const refusal = policy.refusal(address)
        if (refusal !== null) {
          callback(new DestinationForbiddenError(hostname, address, refusal), [])
          return
        }
      }
      // dns.lookup answers ENOTFOUND rather than no address at all.
      const first = addresses[0] as LookupAddress
      if (options.all === true) callback(null, addresses)
      else callback(null, first.address, first.family)
    })
  }
}

/**
 * The HTTP agent every delivery attempt goes through: an IP-literal host is checked before connecting, a name
 * through `checkedLookup`; a refused destination fails the attempt with `WEBHOOK_DESTINATION_FORBIDDEN`
 * before any connection is made.
 */
export function guardedAgent (policy: DestinationPolicy, resolve?: LookupFunction): Agent {
  const connect = buildConnector({ lookup: checkedLookup(policy, resolve) })
  return new Agent({
    connect (options, callback) {
      const refusal = isIP(options.hostname) === 0 ? null : policy.refusal(options.hostname)
      if (refusal === null) connect(options, callback)
      else callback(new DestinationForbiddenError(options.hostname, options.hostname, refusal), null)
    }
  })
}
