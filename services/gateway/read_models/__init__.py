"""Read models the gateway serves, each rebuilt from the streams by a projection."""
