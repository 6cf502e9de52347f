// A webhook receiver: verifies every delivery to POST /hooks against the sender's JWKS and logs it.
// Configured by environment variables (README.md).
import Fastify from 'fastify'
import webhookConsumer, { type VerifiedWebhook } from '@webhook-jwt/consumer'
import { describeConfigError, readConfig } from './config.ts'

/** The event's `type`, when the sender gave one; the body is whatever JSON the sender signed. */
function eventType (body: unknown): string | undefined {
  const type = (body as { type?: unknown } | null)?.type
  return typeof type === 'string' ? type : undefined
}

const app = Fastify({ logger: true })

try {
  const config = readConfig(process.env)
  // Registered before the route: the plugin sets up each verifying route as it is added.
  await app.register(webhookConsumer, config.consumer)
  app.post('/hooks', { preHandler: app.verifyWebhook }, async (request) => {
    // Set by app.verifyWebhook, which answers the request itself when verification fails.
    const { id, kid, issuer } = request.webhook as VerifiedWebhook
    // A real handler would process the event once per id: retries carry the same id.
    request.log.info({ webhook: { id, kid, issuer }, type: eventType(request.body) }, 'webhook verified')
    return { received: true }
  })
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  const configMistake = describeConfigError(error)
  if (configMistake === undefined) app.log.fatal({ err: error }, 'the webhook consumer could not start')
  else app.log.fatal(configMistake)
  await app.close()
  process.exit(1)
}

async function shutDown (signal: NodeJS.Signals): Promise<void> {
  app.log.info({ signal }, 'closing')
  try {
    await app.close()
  } catch (error) {
    app.log.error({ err: error }, 'the webhook consumer did not close cleanly')
    process.exitCode = 1
  }
}
// Once: a second Ctrl-C falls back to Node's default and ends the process at once.
process.once('SIGINT', shutDown)
process.once('SIGTERM', shutDown)
