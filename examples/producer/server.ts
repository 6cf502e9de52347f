// A webhook sender: signs deliveries, serves its JWKS at /.well-known/jwks.json, rotates its keys, and
// sends a signed webhook to any URL through POST /send; POST /sign shows one without sending it. Configured by environment variables (README.md).
import Fastify from 'fastify'
import webhookProducer from '@webhook-jwt/producer'
import { describeConfigError, readConfig } from './config.ts'
import { sendRoute } from './send-route.ts'
import { signRoute } from './sign-route.ts'

const app = Fastify({ logger: true })

try {
  const config = readConfig(process.env)
  await app.register(webhookProducer, config.producer)
  await app.register(sendRoute)
  await app.register(signRoute)
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  const configMistake = describeConfigError(error)
  if (configMistake === undefined) app.log.fatal({ err: error }, 'the webhook producer could not start')
  else app.log.fatal(configMistake)
  await app.close()
  process.exit(1)
}

async function shutDown (signal: NodeJS.Signals): Promise<void> {
  app.log.info({ signal }, 'closing')
  try {
    await app.close()
  } catch (error) {
    app.log.error({ err: error }, 'the webhook producer did not close cleanly')
    process.exitCode = 1
  }
}
// Once: a second Ctrl-C falls back to Node's default and ends the process at once.
process.once('SIGINT', shutDown)
process.once('SIGTERM', shutDown)
