"""Street-like views synthesised from shop pictures, and synthesised user->shop queries."""
