"""Unified sign-in (统一身份认证): signing staff in through the government's identity service.

- adapter: the small interface every protocol implements (begin a sign-in, finish it from the
  provider's answer, where single logout goes), the identity it yields and the refusals;
- oidc: OpenID Connect, authorization code + PKCE, with Authlib (discovery, ID-token checks,
  JWKS with key rotation); CAS 3.0 or a ticket exchange is another adapter (docs/identity.md);
- config: the adapter the settings describe, if any;
- signin: a sign-in under way (state, nonce, PKCE verifier kept server-side, spent once) and
  its outcome: an account an administrator linked, or a refusal in the audit;
- links: linking and unlinking an outside identity to an existing account (administrators);
- policy: local passwords switched off per role.
"""
