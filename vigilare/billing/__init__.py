"""Plans, their limits, and Stripe billing."""
