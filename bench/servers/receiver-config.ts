import type { SigningAlgorithm } from '@webhook-jwt/protocol'

/** What the harness tells each receiving contender: the sender it trusts and where its keys are. */
export interface ReceiverConfig {
  algorithm: SigningAlgorithm
  /** Also the JWKS server's origin: get-jwks derives the key set URL from `iss`. */
  issuer: string
  audience: string
  jwksUrl: string
}

/** Every receiving contender serves this route, and answers with this body once the webhook is accepted. */
export const WEBHOOK_PATH = '/hooks'
export const ACCEPTED = { ok: true }
