"""caller check: the function that checks a listing's caller in the round trip that begins its read

The hot listings (``vigilare.db.reads``) authenticate their caller in the read-only transaction
they read in. ``vigilare_check_caller(user, tenant, family, token_version, role)`` is that check
as one statement, so that it travels with ``BEGIN`` and the transaction's role and tenant settings
in a single simple query instead of a round trip of its own. It runs as the caller of the
function (``SECURITY INVOKER``: ``vigilare_app`` by then, under row-level security, so it sees the
token's tenant only) and answers nothing when the token still holds; otherwise it raises, with an
SQLSTATE of its own that ``vigilare.auth.service`` turns into the 401 the other path answers:

- ``VGA01`` (token no longer valid): no such user in the token's tenant, the user is not active,
  or the token's ``token_version`` (bumped by a role change or a removal) or role is not the
  user's;
- ``VGA02`` (the login has ended): the token's refresh family was revoked (logout, reuse of a
  rotated refresh token).

PostgreSQL only (SQLite keeps the ORM path).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 09:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION vigilare_check_caller(
    p_user text, p_tenant text, p_family text, p_token_version integer, p_role text
) RETURNS void
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $$
DECLARE
    found_user record;
BEGIN
    SELECT u.role, u.status, u.token_version INTO found_user
    FROM users u WHERE u.id = p_user AND u.tenant_id = p_tenant;
    -- IS DISTINCT FROM: a NULL (none of these columns takes one) refuses, never lets through.
    IF NOT FOUND OR found_user.status IS DISTINCT FROM 'active'
            OR found_user.token_version IS DISTINCT FROM p_token_version
            OR found_user.role IS DISTINCT FROM p_role THEN
        RAISE EXCEPTION 'token no longer valid' USING ERRCODE = 'VGA01';
    END IF;
    IF EXISTS (SELECT 1 FROM refresh_tokens r
               WHERE r.tenant_id = p_tenant AND r.family_id = p_family AND r.revoked_at IS NOT NULL) THEN
        RAISE EXCEPTION 'this login has ended' USING ERRCODE = 'VGA02';
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS vigilare_check_caller(text, text, text, integer, text)")
