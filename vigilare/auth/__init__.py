"""Identity: tenants, users, sign-up, login, tokens, invitations."""
