"""The caller's profile and the tenant's team: listing, inviting, roles, removal."""
