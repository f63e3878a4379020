"""Connected AWS accounts: onboarding (role snippets), verification, listing, disconnection."""
