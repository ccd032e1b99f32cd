"""Local stand-ins for a deployment's services: `mlplatform dev` (and the tests) start them."""
