import type { FastifyInstance } from 'fastify'

interface SignRequest {
  event: Record<string, unknown>
  audience: string
}

const signSchema = {
  body: {
    type: 'object',
    required: ['event', 'audience'],
    additionalProperties: false,
    properties: {
      event: { type: 'object' },
      audience: { type: 'string', minLength: 1 }
    }
  }
} as const

/**
 * `POST /sign { event, audience }`: signs `event` for `audience` and answers what /send would send, without
 * sending it: `{ webhookId, kid, token, body }`. For looking at a token with `webhook-jwt decode` and
 * `webhook-jwt verify`; the token is as good as any other for its few minutes, so keep the app on loopback.
 */
export async function signRoute (app: FastifyInstance): Promise<void> {
  app.post<{ Body: SignRequest }>('/sign', { schema: signSchema }, async (request) => {
    const { body, headers, id, kid } = await app.webhooks.sign(request.body.event, { audience: request.body.audience })
    // The event is JSON, so its exact bytes travel as a string.
    return { webhookId: id, kid, token: headers.authorization?.replace(/^Bearer /, ''), body: body.toString('utf8') }
  })
}
