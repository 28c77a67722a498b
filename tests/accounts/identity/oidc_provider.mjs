// A real OpenID provider on loopback for the tests (the npm package `oidc-provider`).
//
// Usage: node oidc_provider.mjs CONFIG.json
// CONFIG: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "clients": [...],
//          "jwks": {"keys": [private JWKs, the first signs]}, "accounts": {"id": {claims}},
//          "idTokenTtl": seconds}
// Prints one line "ready PORT" on stdout once listening. Key rotation: the test restarts it
// on the same port with a new first key (the old one may stay listed, or not).
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: cfg.jwks,
  cookies: { keys: ['openday-test-cookie-key'] },
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  // the configured claim (preferred_username…) is read from the ID token itself
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: { IdToken: cfg.idTokenTtl || 3600, AccessToken: 600, AuthorizationCode: 60 },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const extra = cfg.accounts[id];
    if (!extra) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...extra }; } };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(cfg.port, '127.0.0.1', () => {
  console.log(`ready ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
